// One formatter per event code, as plain lines for logs and pipes; the type checker makes sure
// every code of src/events.ts has one (null: the event prints nothing in this form).
import type { ChalkInstance } from "chalk";
import type { EventCode, EventOf, NodeResult, VarOutcome } from "../events.js";

export interface FormatStyle {
  color: ChalkInstance;
  /** Stream Nix and activation output, every check attempt, evaluation figures (-v). */
  verbose: boolean;
  /** Node names are padded to this width so the lines align. */
  nameWidth: number;
}

type Formatters = { [C in EventCode]: (event: EventOf<C>, style: FormatStyle) => string | null };

export function resultColor(c: ChalkInstance, result: NodeResult): (s: string) => string {
  switch (result) {
    case "succeeded":
      return c.green;
    case "unchanged":
      return c.dim;
    case "failed":
    case "rolled-back":
      return c.red;
    case "skipped":
      return c.yellow;
  }
}

/** `ssh-host for web-1`, `db-password (shared)`. */
export function instanceLabel(of: { generator: string; node: string | null }): string {
  return of.node === null ? `${of.generator} (shared)` : `${of.generator} for ${of.node}`;
}

export function varOutcomeColor(c: ChalkInstance, outcome: VarOutcome): (s: string) => string {
  return outcome === "failed" ? c.red : outcome === "generated" || outcome === "rekeyed" ? c.green : outcome === "unchanged" ? c.dim : c.yellow;
}

const prefix = (node: string | null, s: FormatStyle) => `${s.color.cyan((node ?? "*").padEnd(s.nameWidth))} | `;

/** What Ctrl-C does, said when it is pressed. */
export function interruptMessage(event: EventOf<"run.interrupt">): string {
  if (event.count > 1) {
    return event.effect === "stop-new-work"
      ? "interrupted again: stopped waiting; activations already started finish or revert on their nodes by themselves"
      : "interrupted again: stopped waiting";
  }
  return event.effect === "stop-new-work"
    ? "interrupted: starting nothing new; activations under way are waited for, and each finishes or reverts by itself (Ctrl-C again to stop waiting)"
    : "interrupted: stopping the commands (Ctrl-C again to stop waiting)";
}

export const PLAIN_FORMAT: Formatters = {
  "node.phase": (e, s) => `${prefix(e.node, s)}${e.phase}`,
  "node.log": (e, s) => (s.verbose ? `${prefix(e.node, s)}${s.color.dim(e.line)}` : null),
  "node.check": (e, s) =>
    e.passed
      ? `${prefix(e.node, s)}check ${e.check} passed${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`
      : s.verbose
        ? `${prefix(e.node, s)}check ${e.check} attempt ${e.attempt}: ${s.color.dim(e.output.split("\n")[0] ?? "")}`
        : null,
  // The message itself is said once, in the result table; progress says what happened and its code.
  "node.done": (e, s) => `${prefix(e.node, s)}${resultColor(s.color, e.result)(e.result)}${e.error && e.result !== "skipped" ? s.color.dim(` (${e.error.code})`) : ""}`,
  "check.alert": (e, s) =>
    `${prefix(e.node, s)}${e.state === "degraded" ? s.color.red("degraded") : s.color.green("recovered")}${e.check === null ? "" : ` (check ${e.check})`}: ` +
    (e.delivered ? "alert sent" : s.color.red(`alert NOT sent: ${e.error ?? "unknown error"}`)),
  "eval.warning": (e, s) => `${s.color.yellow("warning:")} ${e.nodes.length > 3 ? `${e.nodes.slice(0, 3).join(", ")} and ${e.nodes.length - 3} more` : e.nodes.join(", ")}: ${e.message}`,
  "eval.summary": (e, s) =>
    s.verbose
      ? s.color.dim(
          `evaluation: ${e.evaluated} evaluated in ${e.processes} process${e.processes === 1 ? "" : "es"}, ${e.cached} from the cache` +
            (e.peakRssBytes === null ? "" : `, peak ${Math.round(e.peakRssBytes / 1024 ** 2)} MiB`),
        )
      : null,
  "exec.started": () => null,
  "exec.output": () => null,
  "exec.finished": () => null,
  "vars.started": (e, s) => (s.verbose ? `${prefix(instanceLabel(e), s)}${e.action === "rekey" ? "re-encrypting" : "generating"}` : null),
  // Failures are said in full in the result table; progress says what happened.
  "vars.done": (e, s) =>
    e.outcome === "unchanged" && !s.verbose
      ? null
      : `${prefix(instanceLabel(e), s)}${varOutcomeColor(s.color, e.outcome)(e.outcome)}${e.message && e.outcome !== "failed" ? `: ${e.message}` : ""}`,
  "run.warning": (e, s) => `${s.color.yellow("warning:")} ${e.message}`,
  "run.interrupt": (e, s) => s.color.yellow(interruptMessage(e)),
  "run.result": () => null,
};

export function formatEvent<C extends EventCode>(event: EventOf<C>, style: FormatStyle): string | null {
  return (PLAIN_FORMAT[event.code] as (e: EventOf<C>, s: FormatStyle) => string | null)(event, style);
}
