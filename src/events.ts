// The one catalogue of events the core emits while it works, each with a stable code; renderers
// (live, plain lines, newline-delimited JSON with --events) consume them. The core never prints.
import type { ErrorSummary } from "./errors.js";

/** What happened to one node: every command that acts on nodes reports exactly one of these. */
export const NODE_RESULTS = ["succeeded", "unchanged", "failed", "rolled-back", "skipped"] as const;
export type NodeResult = (typeof NODE_RESULTS)[number];

/** Results that make the command exit non-zero. */
export function isFailure(result: NodeResult): boolean {
  return result === "failed" || result === "rolled-back";
}

/** Steps of a node's pipeline, in the order they can happen. */
export const PHASES = ["eval", "build", "connect", "push", "keys", "activate", "verify", "check", "rollback", "remove-keys", "run"] as const;
export type Phase = (typeof PHASES)[number];

export type LogSource = "nix" | "activation" | "keys";

/** How one node's `hive exec` ended; every outcome but `exited` means the command's own result is unknown. */
export const EXEC_OUTCOMES = ["exited", "unreachable", "timed-out", "disconnected", "interrupted", "skipped"] as const;
export type ExecOutcome = (typeof EXEC_OUTCOMES)[number];

/** What `hive vars generate` did with one generator instance (a node's files, or the shared ones). */
export const VAR_OUTCOMES = ["generated", "rekeyed", "unchanged", "stale", "failed", "skipped"] as const;
export type VarOutcome = (typeof VAR_OUTCOMES)[number];

export type HiveEvent =
  /** A node entered a step of its pipeline. */
  | { code: "node.phase"; node: string; phase: Phase }
  /** A line of Nix's, the activation's or a key command's output, attributed to a node where known. */
  | { code: "node.log"; node: string | null; source: LogSource; line: string }
  /** A health check attempt ended (passing or not); the live view shows the last one per node. */
  | { code: "node.check"; node: string; check: string; attempt: number; passed: boolean; output: string }
  /** A node's final result. */
  | { code: "node.done"; node: string; result: NodeResult; error: ErrorSummary | null; durationMs: number }
  /** Evaluation said something the operator should read (Nix's `warning:` and `trace:` lines), once for all nodes that said it. */
  | { code: "eval.warning"; nodes: string[]; message: string }
  /** How evaluation went: cache hits, evaluator processes started, their peak memory. */
  | { code: "eval.summary"; cached: number; evaluated: number; processes: number; peakRssBytes: number | null }
  /** `hive exec`: a node's command started, printed, or ended. */
  | { code: "exec.started"; node: string }
  | { code: "exec.output"; node: string; stream: "stdout" | "stderr"; chunk: Buffer }
  | { code: "exec.finished"; node: string; result: NodeResult; outcome: ExecOutcome; exitCode: number | null; error: ErrorSummary | null; durationMs: number }
  /** `hive vars generate`: a generator started on an instance (`node` null: the shared one), or ended. */
  | { code: "vars.started"; generator: string; node: string | null; action: "generate" | "rekey" }
  | { code: "vars.done"; generator: string; node: string | null; outcome: VarOutcome; message: string | null }
  /** `hive check --notify`: a check (or, with `check` null, the node's reachability) changed state, and whether the alert was delivered. */
  | { code: "check.alert"; node: string; check: string | null; state: "degraded" | "recovered"; delivered: boolean; error: string | null }
  /** Something worth knowing that stops nothing. */
  | { code: "run.warning"; message: string }
  /**
   * The operator pressed Ctrl-C (or sent SIGTERM). The first stops new work (`stop-new-work`:
   * deploys wait for activations under way; `stop-commands`: exec kills its commands), the second stops waiting.
   */
  | { code: "run.interrupt"; count: number; effect: "stop-new-work" | "stop-commands" }
  /** With --events, the run's final report (what --json prints), as its last line. */
  | { code: "run.result"; report: unknown };

export type EventCode = HiveEvent["code"];

/** What each event means, for docs/cli.md (generated from this table: every code must have a line). */
export const EVENT_DOCS: { [C in EventCode]: string } = {
  "node.phase": "A node entered a step: `eval`, `build`, `connect`, `push`, `keys`, `activate`, `verify`, `check`, `rollback`, `remove-keys`.",
  "node.log": "A line of Nix's, the activation's or a key command's output (`source`), attributed to a node where known.",
  "node.check": "A health check attempt ended: `check`, `attempt`, `passed`, `output`.",
  "node.done": "A node's final `result` (see below), with `error` (`{ code, message }`) and `durationMs`.",
  "eval.warning": "An evaluation warning, once, with every node that printed it.",
  "eval.summary": "Evaluation figures: nodes from the cache, nodes evaluated, evaluator processes, peak evaluator memory.",
  "exec.started": "`hive exec`: the command started on a node.",
  "exec.output": "`hive exec`: output of a node's command (`stream`, and `text` in the JSON form).",
  "exec.finished": "`hive exec`: a node's command ended (`outcome`, `exitCode`, `error`).",
  "vars.started": "`hive vars generate`: a `generator` started for a `node` (`null`: its shared files); `action` is `generate` or `rekey`.",
  "vars.done": "`hive vars generate`: an instance's `outcome` (`generated`, `rekeyed`, `unchanged`, `stale`, `failed`, `skipped`), with `message`.",
  "check.alert": "`hive check --notify`: a check (`check`, or `null` for the node's reachability) changed `state` (`degraded`, `recovered`); `delivered`, and `error` when it was not.",
  "run.warning": "Something worth knowing that stops nothing.",
  "run.interrupt": "Ctrl-C or SIGTERM: `count` 1 stops new work (`effect`), 2 stops waiting.",
  "run.result": "The last line: the run's report, the same document `--json` prints.",
};
export type EventOf<C extends EventCode> = Extract<HiveEvent, { code: C }>;

export interface Reporter {
  emit(event: HiveEvent): void;
}
