// hive's event log on a node: one JSON line per outcome of an activation (deployed, rolled back,
// failed) and per deploy that failed once it reached the node, appended, never rewritten.
//
// Written as root by the activation supervisor (at its final result) and by hive's deploy pipeline
// (failures the supervisor never saw); read by the facts script (status: the last lines; history:
// all). It lives in /nix/var/hive (root's, persistent): the writer refuses a directory or file that
// is a symlink or not root's, so a non-root user on the node can not point it elsewhere.
import { quoteShellArg as q } from "../ssh/quote.js";
import type { DeploymentRecord } from "./record.js";

export const EVENTS_DIR = "/nix/var/hive";
export const EVENTS_FILE = "events.jsonl";
/** Past this size the log moves to events.jsonl.1 (one old file is kept): reading it stays cheap. */
const ROTATE_KIB = 1024;

/**
 * What an event says happened, judged from the supervisor's result and the record:
 * deployed (the new system runs), rolled-back (the node returned to what it ran, by itself or by
 * hive, after a failure), rollback (`hive rollback` by an operator), failed (nothing to return to,
 * rollback off, or a failure before activation).
 */
export type NodeEventKind = "deployed" | "rolled-back" | "rollback" | "failed";

export interface NodeEvent {
  /** When it ended, ISO 8601 (the node's clock). */
  at: string;
  kind: NodeEventKind;
  /** The supervisor's result (`confirmed`, `reverted-rejected`, ...) or hive's (`failed`). */
  result: string;
  /** The system activated (or tried). */
  system: string | null;
  /** What ran before it; what a rolled-back node runs again. */
  previous: string | null;
  generation: number | null;
  previousGeneration: number | null;
  /** Why it failed or turned back: hive's error code and words, or the supervisor's. */
  error: { code: string; message: string } | null;
  /** Who, from which hive.ts and commit (the deployment record of the attempt). */
  deployment: DeploymentRecord | null;
}

/**
 * A shell function `hive_event JSON-LINE` that appends one line to the log, as root. It creates
 * the directory if needed and refuses (exit 1, nothing written) a directory or log that is a
 * symlink or not owned by root.
 */
export function eventWriterFunction(dir = EVENTS_DIR): string {
  return `hive_event() (
  umask 022
  d=${q(dir)}
  [ -d "$d" ] || mkdir -p -- "$d" || exit 1
  if [ -L "$d" ] || [ ! -O "$d" ]; then echo "hive: $d is a symlink or not root's: event not written" >&2; exit 1; fi
  f="$d/${EVENTS_FILE}"
  if [ -L "$f" ] || { [ -e "$f" ] && [ ! -O "$f" ]; }; then echo "hive: $f is a symlink or not root's: event not written" >&2; exit 1; fi
  if [ -f "$f" ] && [ -n "$(find "$f" -size +${ROTATE_KIB}k 2>/dev/null)" ]; then mv -f -- "$f" "$f.1"; fi
  printf '%s\\n' "$1" >> "$f"
)`;
}

/** The line hive itself writes (a failure the supervisor never saw): the same shape the supervisor writes. */
export function eventLine(event: Omit<NodeEvent, "kind">): string {
  return JSON.stringify({ v: 1, ...event });
}

/** Appends one event hive composed (run as root). */
export function appendEventScript(event: Omit<NodeEvent, "kind">, dir = EVENTS_DIR): string {
  return `${eventWriterFunction(dir)}\nhive_event ${q(eventLine(event))}`;
}

/** Prints the log's last `lines` lines (all of it, the rotated part first, when null), each as `event=JSON`. */
export function readEventsScript(lines: number | null, dir = EVENTS_DIR): string {
  const f = `${dir}/${EVENTS_FILE}`;
  const read = lines === null ? `cat -- ${q(`${f}.1`)} ${q(f)} 2>/dev/null` : `tail -n ${lines} -- ${q(f)} 2>/dev/null`;
  return `${read} | while IFS= read -r line; do printf 'event=%s\\n' "$line"; done`;
}

/** One line of the log, or null when it is not an event hive can read. */
export function parseEvent(line: string): NodeEvent | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null || typeof raw["at"] !== "string" || typeof raw["result"] !== "string") return null;
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  const num = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : null);
  const error = raw["error"] as { code?: unknown; message?: unknown } | null | undefined;
  const deployment = typeof raw["deployment"] === "object" && raw["deployment"] !== null ? (raw["deployment"] as DeploymentRecord) : null;
  const event: Omit<NodeEvent, "kind"> = {
    at: raw["at"],
    result: raw["result"],
    system: text(raw["system"]),
    previous: text(raw["previous"]),
    generation: num(raw["generation"]),
    previousGeneration: num(raw["previousGeneration"]),
    error: error && typeof error.message === "string" ? { code: typeof error.code === "string" ? error.code : "E_NODE", message: error.message } : null,
    deployment,
  };
  return { ...event, kind: classifyEvent(event) };
}

/** See NodeEventKind. */
export function classifyEvent(event: Pick<NodeEvent, "result" | "error" | "deployment">): NodeEventKind {
  switch (event.result) {
    case "activated":
    case "confirmed":
      // Kept although something failed: rollback was off, or there was nothing to return to.
      if (event.error !== null && event.deployment?.goal !== "rollback") return "failed";
      // A return to the previous system hive drove itself (no supervisor waiting) carries its reason.
      if (event.deployment?.goal === "rollback") return event.error !== null ? "rolled-back" : "rollback";
      return "deployed";
    case "reverted-failed":
    case "reverted-rejected":
    case "reverted-unconfirmed":
      return "rolled-back";
    default:
      return "failed";
  }
}
