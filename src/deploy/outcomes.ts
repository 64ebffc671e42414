// Per-node outcomes and logs while a deployment runs: each node's result is recorded once.
import type { ErrorSummary } from "../errors.js";
import type { LogSource, NodeResult, Phase, Reporter } from "../events.js";
import type { CheckOutcome } from "../health/checks.js";
import type { Goal } from "../plan/goal.js";

export interface NodeOutcome {
  name: string;
  result: NodeResult;
  drvPath: string | null;
  outPath: string | null;
  durationMs: number;
  error: ErrorSummary | null;
  /** The last lines of the node's log that explain a failure (empty otherwise). */
  log: string[];
  /** Health checks run after activation (or on a node that already ran the desired system). */
  checks: CheckOutcome[];
  /** dry-activate: what activation would change, as switch-to-configuration printed it. */
  changes: string[] | null;
}

export interface ApplyReport {
  goal: Goal | "rollback";
  nodes: NodeOutcome[];
  interrupted: boolean;
}

const LOG_KEEP = 200;
const LOG_TAIL = 20;

export interface Finish {
  result: NodeResult;
  error?: ErrorSummary | null;
  /** Lines that explain the failure; default the node's log of the phase that failed. */
  log?: readonly string[];
  checks?: CheckOutcome[];
  changes?: string[] | null;
}

/** Collects each node's log (by phase, so a failure shows the lines of the step that failed) and its one result. */
export class OutcomeTracker {
  private readonly states = new Map<string, NodeOutcome>();
  private readonly logs = new Map<string, string[]>();
  private readonly started: number;

  constructor(
    names: readonly string[],
    private readonly reporter: Reporter,
    private readonly now: () => number,
  ) {
    this.started = now();
    for (const name of names) {
      this.states.set(name, { name, result: "skipped", drvPath: null, outPath: null, durationMs: 0, error: null, log: [], checks: [], changes: null });
      this.logs.set(name, []);
    }
  }

  get(name: string): NodeOutcome {
    return this.states.get(name)!;
  }

  log(node: string | null, line: string, source: LogSource): void {
    if (node !== null) {
      const lines = this.logs.get(node);
      if (lines) {
        lines.push(line);
        if (lines.length > LOG_KEEP) lines.splice(0, lines.length - LOG_KEEP);
      }
    }
    this.reporter.emit({ code: "node.log", node, source, line });
  }

  /** A new phase starts: the log kept for a failure is that phase's own. */
  phase(node: string, phase: Phase): void {
    this.logs.set(node, []);
    this.reporter.emit({ code: "node.phase", node, phase });
  }

  /** A health check attempt ended. */
  reportCheck(node: string, check: string, attempt: number, passed: boolean, output: string): void {
    this.reporter.emit({ code: "node.check", node, check, attempt, passed, output });
  }

  /** The lines logged for the node in its current phase. */
  logOf(node: string): readonly string[] {
    return this.logs.get(node) ?? [];
  }

  /** Record a node's result (once: a second call is ignored) and tell the reporter. */
  finish(name: string, finish: Finish): void {
    const state = this.states.get(name)!;
    if (state.result !== "skipped" || state.error !== null) return;
    state.result = finish.result;
    state.error = finish.error ?? null;
    state.checks = finish.checks ?? [];
    state.changes = finish.changes ?? null;
    state.durationMs = this.now() - this.started;
    if (finish.result === "failed" || finish.result === "rolled-back") {
      state.log = [...(finish.log ?? this.logs.get(name) ?? [])].filter((l) => l.trim() !== "").slice(-LOG_TAIL);
    }
    this.reporter.emit({ code: "node.done", node: name, result: state.result, error: state.error, durationMs: state.durationMs });
  }

  /** A node that will not be worked on, with the reason (E_STOPPED, E_INTERRUPTED). */
  skip(name: string, error: ErrorSummary): void {
    const state = this.states.get(name)!;
    if (state.result !== "skipped" || state.error !== null) return;
    state.error = error;
    this.reporter.emit({ code: "node.done", node: name, result: "skipped", error, durationMs: 0 });
  }

  report(goal: ApplyReport["goal"], order: readonly string[], interrupted: boolean): ApplyReport {
    return { goal, nodes: order.map((name) => this.states.get(name)!), interrupted };
  }
}
