// `hive exec -- CMD [ARG...]`: run a command on the selected nodes; stream, group or JSON the results.
import { setMaxListeners } from "node:events";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { type ExecEvent, type ExecReport, planExec, runFleetCommand } from "../../fleet/exec.js";
import { createExecStreamRenderer, renderExecGroups, summarizeExec } from "../../report/render-exec.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";

export interface ExecCommandOptions {
  on?: string;
  parallel?: number;
  timeout?: number;
  sudo?: boolean;
  stdin?: boolean;
  group?: boolean;
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runExec(context: CommandContext, argv: string[], options: ExecCommandOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const plan = planExec(hive, argv, options);
  const { terminal } = context;
  const stdin = options.stdin ? await readAll(process.stdin) : undefined;
  // `hive exec -- journalctl | head`: a reader that leaves early must not crash the run; the rest is dropped.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  const streaming = !options.json && !options.group;
  const renderer: { onEvent: (event: ExecEvent) => void; stop?: () => void } | undefined = streaming
    ? createExecStreamRenderer({ out: terminal.out, err: terminal.err, color: terminal.color, errColor: terminal.errColor, nodeNames: plan.nodes.map((n) => n.name) })
    : await createProgressLine(plan.nodes.length);

  // First Ctrl-C: kill the running commands and report. Second: stop waiting for them.
  const abort = new AbortController();
  // Every running command listens for the abort.
  setMaxListeners(0, abort.signal);
  let stopWaiting: (() => void) | undefined;
  const stopped = new Promise<"stopped">((resolve) => (stopWaiting = () => resolve("stopped")));
  const onSigint = () => {
    if (abort.signal.aborted) return stopWaiting?.();
    terminal.err(terminal.errColor.yellow("interrupted: stopping the commands (Ctrl-C again to stop waiting)"));
    abort.abort();
  };
  process.on("SIGINT", onSigint);

  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  const started = performance.now();
  let outcome: ExecReport | "stopped";
  try {
    outcome = await Promise.race([
      runFleetCommand(plan, {
        connect: (node) => pool.connect(resolveSshTarget(node, sshConfig)),
        signal: abort.signal,
        ...(stdin !== undefined ? { stdin } : {}),
        ...(renderer ? { onEvent: renderer.onEvent } : {}),
      }),
      stopped,
    ]);
  } finally {
    renderer?.stop?.();
    process.off("SIGINT", onSigint);
    // Not awaited when stopped: a connection still opening must not hold the exit.
    if (abort.signal.aborted) void pool.closeAll();
    else await pool.closeAll();
  }
  if (outcome === "stopped") return EXIT_CODES.interrupted;

  if (options.json) {
    const nodes = outcome.nodes.map((n) => ({
      name: n.name,
      result: n.result,
      outcome: n.outcome,
      exitCode: n.exitCode,
      signal: n.signal,
      stdout: n.stdout,
      stderr: n.stderr,
      durationMs: Math.round(n.durationMs),
      error: n.error,
    }));
    terminal.out(JSON.stringify({ command: plan.argv, nodes }, null, 2));
  } else {
    if (options.group && outcome.nodes.length > 0) terminal.out(renderExecGroups(outcome.nodes, terminal.color));
    terminal.err(summarizeExec(outcome, performance.now() - started, terminal.errColor));
  }
  if (outcome.interrupted) return EXIT_CODES.interrupted;
  return outcome.nodes.every((n) => n.result === "succeeded") ? EXIT_CODES.success : EXIT_CODES.failed;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** With --group or --json on a terminal: one line on stderr counting the nodes done, gone at the end. */
async function createProgressLine(total: number): Promise<{ onEvent: (event: ExecEvent) => void; stop: () => void } | undefined> {
  if (!process.stderr.isTTY) return undefined;
  const { createLogUpdate } = await import("log-update");
  const update = createLogUpdate(process.stderr);
  let done = 0;
  return {
    onEvent: (event) => {
      if (event.kind !== "finished") return;
      done += 1;
      update(`${done}/${total} nodes done`);
    },
    stop: () => update.clear(),
  };
}
