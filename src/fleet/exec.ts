// `hive exec`: one command on many nodes at once, one SSH connection per node, results as data.
import pLimit from "p-limit";
import type { Hive, Node } from "../config/normalize.js";
import { type ErrorSummary, UsageError, summarizeError } from "../errors.js";
import type { ExecOutcome, NodeResult, Reporter } from "../events.js";
import type { Host } from "../host/host.js";
import { selectNodes } from "../selection/selector.js";
import { type ExecResult, type OutputValve, STOP_GRACE_MS } from "../ssh/exec-channel.js";
import { SshDisconnectedError, SshError } from "../ssh/errors.js";
import { quoteCommand } from "../ssh/quote.js";

/** Default for -p: nodes whose command runs at once. */
export const DEFAULT_EXEC_PARALLEL = 50;


export interface ExecNodeResult {
  name: string;
  /** succeeded: exited 0; skipped: never started; failed: everything else. */
  result: NodeResult;
  outcome: ExecOutcome;
  /** Null unless the command exited by itself. */
  exitCode: number | null;
  /** Signal the command died of (`KILL`), as the server reported it. */
  signal: string | null;
  /** What the command printed (the last MiB of each stream), also when it timed out. */
  stdout: string;
  stderr: string;
  /** From starting to connect until the command ended. */
  durationMs: number;
  /** Why the command did not run to an exit status (or died of a signal); null when it exited. */
  error: ErrorSummary | null;
}

export interface ExecPlan {
  nodes: Node[];
  /** The command and its arguments; each reaches the node as one word, byte for byte. */
  argv: string[];
  /** Run as root through privilegeEscalationCommand when targetUser is not root. */
  sudo: boolean;
  parallel: number;
  timeoutMs: number | undefined;
}

export interface FleetExecOptions {
  on?: string;
  parallel?: number;
  /** Seconds the command may run on each node (connecting is bounded by ssh.connectTimeout). */
  timeout?: number;
  sudo?: boolean;
}

/** Which nodes, what command, how many at once: checked before anything runs. */
export function planExec(hive: Hive, argv: readonly string[], options: FleetExecOptions): ExecPlan {
  if (argv.length === 0) throw new UsageError("hive exec needs a command to run", "hive exec [options] -- COMMAND [ARG...]");
  if (options.parallel !== undefined && (!Number.isInteger(options.parallel) || options.parallel < 1)) {
    throw new UsageError(`--parallel must be a whole number of at least 1, got ${options.parallel}`);
  }
  if (options.timeout !== undefined && !(options.timeout > 0 && Number.isFinite(options.timeout))) {
    throw new UsageError(`--timeout must be a positive number of seconds, got ${options.timeout}`);
  }
  const nodes = selectNodes(hive.nodes, options.on);
  checkCommandLength(nodes, argv, options.sudo === true);
  return {
    nodes,
    argv: [...argv],
    sudo: options.sudo === true,
    parallel: options.parallel ?? DEFAULT_EXEC_PARALLEL,
    timeoutMs: options.timeout === undefined ? undefined : Math.round(options.timeout * 1000),
  };
}

/**
 * The node's login shell gets the command as one argument (`sh -c COMMAND`), and Linux takes at
 * most 128 KiB in one argument (MAX_ARG_STRLEN); past it the command cannot start, and past
 * 256 KiB sshd drops the connection. A little is kept for what hive puts around the command.
 */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1024;

function checkCommandLength(nodes: readonly Node[], argv: readonly string[], sudo: boolean): void {
  const longest = Math.max(0, ...nodes.map((node) => Buffer.byteLength(remoteCommandLine(node, argv, sudo))));
  if (longest <= MAX_COMMAND_BYTES) return;
  throw new UsageError(
    `the command is too long for the node's command line: ${formatBytes(longest)} once quoted, and a node takes at most ${formatBytes(MAX_COMMAND_BYTES)}`,
    "send large data on standard input instead: hive exec --stdin -- sh -c 'cat > FILE' < LOCAL-FILE",
  );
}

/** The command line the node's shell runs for `argv` (as SshHost.exec builds it). */
function remoteCommandLine(node: Node, argv: readonly string[], sudo: boolean): string {
  return quoteCommand([...(sudo && node.targetUser !== "root" ? node.privilegeEscalationCommand : []), ...argv]);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

export interface ExecContext {
  hostFor: (node: Node) => Host;
  /** Sent to every node's command; without it the command sees end of input at once. */
  stdin?: Buffer;
  reporter: Reporter;
  /** Stops everything: running commands are killed, nodes not started are skipped. */
  signal: AbortSignal;
  now: () => number;
  /** Closed while the reader of the output lags: the nodes' output is then left unread (SSH holds the commands back). */
  valve?: OutputValve;
}

export interface ExecReport {
  /** In plan (hive.ts) order. */
  nodes: ExecNodeResult[];
  interrupted: boolean;
}

/** Run the plan's command on every node, `parallel` at a time; never rejects for a node's failure. */
export async function runFleetCommand(plan: ExecPlan, context: ExecContext): Promise<ExecReport> {
  const now = context.now;
  const emit = (event: Parameters<Reporter["emit"]>[0]) => context.reporter.emit(event);
  const limit = pLimit(plan.parallel);
  const results = await Promise.all(
    plan.nodes.map((node) =>
      limit(async (): Promise<ExecNodeResult> => {
        const finished = (result: ExecNodeResult) => {
          const { name, result: outcomeResult, outcome, exitCode, error, durationMs } = result;
          emit({ code: "exec.finished", node: name, result: outcomeResult, outcome, exitCode, error, durationMs });
          return result;
        };
        if (context.signal?.aborted) return finished(emptyResult(node.name, "skipped", 0, { code: "E_INTERRUPTED", message: "not started: interrupted" }));
        const started = now();
        emit({ code: "exec.started", node: node.name });
        const elapsed = () => now() - started;
        const host = context.hostFor(node);

        const aborted = whenAborted(context.signal);
        try {
          const connected = await Promise.race([host.connect(), aborted.promise]);
          if (connected === "aborted") {
            return finished(emptyResult(node.name, "interrupted", elapsed(), { code: "E_INTERRUPTED", message: "interrupted while connecting" }));
          }
        } catch (error) {
          const outcome = error instanceof SshError && !(error instanceof SshDisconnectedError) ? "unreachable" : "disconnected";
          return finished(emptyResult(node.name, outcome, elapsed(), summarizeError(error)));
        } finally {
          aborted.dispose();
        }

        try {
          const run = await host.exec(plan.argv, {
            asRoot: plan.sudo,
            ...(context.stdin !== undefined ? { stdin: context.stdin } : {}),
            ...(plan.timeoutMs !== undefined ? { timeoutMs: plan.timeoutMs } : {}),
            signal: context.signal,
            ...(context.valve !== undefined ? { valve: context.valve } : {}),
            onStdout: (chunk) => emit({ code: "exec.output", node: node.name, stream: "stdout", chunk }),
            onStderr: (chunk) => emit({ code: "exec.output", node: node.name, stream: "stderr", chunk }),
          });
          return finished(resultOf(node.name, run, elapsed(), plan.timeoutMs));
        } catch (error) {
          return finished(emptyResult(node.name, "disconnected", elapsed(), summarizeError(error)));
        } finally {
          // One command per node: free the connection now rather than holding hundreds open.
          host.close();
        }
      }),
    ),
  );
  return { nodes: results, interrupted: context.signal?.aborted === true };
}

function emptyResult(name: string, outcome: ExecOutcome, durationMs: number, error: ErrorSummary): ExecNodeResult {
  return { name, result: outcome === "skipped" ? "skipped" : "failed", outcome, exitCode: null, signal: null, stdout: "", stderr: "", durationMs, error };
}

/** An exec result as a node result: exit status, signal, timeout or interruption. */
export function resultOf(name: string, run: ExecResult, durationMs: number, timeoutMs: number | undefined): ExecNodeResult {
  const base = { name, exitCode: run.exitCode, signal: run.signal, stdout: run.stdout, stderr: run.stderr, durationMs };
  if (run.aborted) return { ...base, result: "failed", outcome: "interrupted", error: { code: "E_INTERRUPTED", message: "stopped: interrupted" } };
  if (run.timedOut) {
    const after = timeoutMs === undefined ? "" : ` after ${formatSeconds(timeoutMs)}`;
    const killed = run.stopUnconfirmed
      ? `hive told the node to kill the command, but the node did not answer within ${formatSeconds(STOP_GRACE_MS)}: it may still run there`
      : "the command was killed";
    return { ...base, result: "failed", outcome: "timed-out", error: { code: "E_TIMEOUT", message: `timed out${after}; ${killed}` } };
  }
  if (run.exitCode === null) {
    const message = run.signal !== null ? `killed by signal ${run.signal}` : "ended without reporting an exit status";
    return { ...base, result: "failed", outcome: "exited", error: { code: "E_SIGNAL", message } };
  }
  return { ...base, result: run.exitCode === 0 ? "succeeded" : "failed", outcome: "exited", error: null };
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** Resolves to "aborted" when the signal fires; for racing steps that take no signal (connecting). */
function whenAborted(signal: AbortSignal): { promise: Promise<"aborted">; dispose: () => void } {
  let onAbort: () => void = () => {};
  const promise = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}
