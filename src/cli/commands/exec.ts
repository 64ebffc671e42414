// `hive exec -- CMD [ARG...]`: run a command on the selected nodes; stream, group or JSON the results.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import type { Reporter } from "../../events.js";
import type { ExecReport } from "../../fleet/exec.js";
import { type CliBinding, type CommandContext, loadHiveForCommand } from "../context.js";
import { addHostKeyOption, helpFooter, parseCount, parseSeconds, selection } from "../options.js";
import { createStreamValve } from "../output-valve.js";
import { createRuntime } from "../runtime.js";

interface ExecFlags {
  on?: string;
  parallel?: number;
  timeout?: number;
  sudo?: boolean;
  stdin?: boolean;
  group?: boolean;
  json?: boolean;
  events?: boolean;
  acceptNewHostKeys?: boolean;
}

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("exec")
    .description("run a command on the selected nodes at once, over one SSH connection each")
    .argument("<command...>", "the command and its arguments (put -- before it)")
    .usage("[options] -- <command> [args...]")
    .showHelpAfterError("hint: put -- before the command, so options after it are the command's: hive exec -- ls -la")
    .addOption(selection())
    .option("-p, --parallel <n>", "nodes running the command at once (default 50)", parseCount)
    .option("--timeout <seconds>", "kill the command on a node after this long", parseSeconds)
    .option("--sudo", "run the command as root (through privilegeEscalationCommand) when targetUser is not root")
    .option("--stdin", "send hive's standard input to the command on every node")
    .option("--group", "print each distinct result once, under the nodes that produced it")
    .option("--json", "print { nodes: [{ name, exitCode, stdout, stderr, durationMs, error, ... }] } on stdout")
    .option("--events", "print one JSON object per line on stdout (output included) as things happen, the report last");
  addHostKeyOption(command)
    .addHelpText(
      "after",
      `
Arguments reach the node byte for byte: each one is quoted for the node's shell, so nothing in
them is expanded there. For pipes, globs or variables on the node, run a shell:
  -- sh -c 'df -h / | tail -1'

Output streams as it arrives: \`node | line\` for stdout (on stdout), \`node ! line\` for stderr
(on stderr). Unreachable nodes and timeouts are reported as such, apart from non-zero exits.
Exit 0 only when the command exited 0 on every node. The first Ctrl-C stops the commands.
` +
        helpFooter([
          "hive exec -- uptime                         every node, output as it comes",
          "hive exec --on @server --group -- cat /etc/os-release",
          "hive exec --on 'web-*' --timeout 10 --json -- systemctl is-active nginx",
          "hive exec --on @db --sudo -- journalctl -u postgresql -n 20",
          "cat motd | hive exec --stdin -- tee /etc/motd",
        ]),
    )
    .action(async (argv: string[], options: ExecFlags) => cli.exit(await runExec(cli.context(), argv, options)));
}

async function runExec(context: CommandContext, argv: string[], options: ExecFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { planExec, runFleetCommand } = await import("../../fleet/exec.js");
  const plan = planExec(hive, argv, options);
  const { terminal } = context;
  const stdin = options.stdin ? await readAll(process.stdin) : undefined;
  // `hive exec -- journalctl | head`: a reader that leaves early must not crash the run; the rest is dropped.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  const nodeNames = plan.nodes.map((n) => n.name);
  const { createExecStreamRenderer, renderExecGroups, summarizeExec } = await import("../../report/render-exec.js");
  const { createEventStream } = await import("../../report/render-progress.js");
  const streaming = !options.json && !options.group && !options.events;
  const renderer: (Reporter & { stop?: () => void }) | undefined = options.events
    ? createEventStream(terminal.out)
    : streaming
      ? ((r) => ({ emit: r.onEvent }))(createExecStreamRenderer({ out: terminal.out, err: terminal.err, color: terminal.color, errColor: terminal.errColor, nodeNames }))
      : await createProgressLine(plan.nodes.length);
  const { interruptMessage } = await import("../../report/format-event.js");
  const reporter: Reporter = {
    emit: (event) => {
      // What Ctrl-C does is said whatever the output form (on stderr), except in the event stream, which carries it.
      if (event.code === "run.interrupt" && !options.events) terminal.err(terminal.errColor.yellow(interruptMessage(event)));
      else renderer?.emit(event);
    },
  };
  const runtime = createRuntime(context, hive, { ...options, nodeNames, interrupt: "stop-commands", reporter });
  const started = performance.now();
  let outcome: ExecReport | "stopped";
  try {
    // Output written as it comes is held back at the nodes while hive's own readers lag.
    const valve = options.json || options.group ? undefined : createStreamValve([process.stdout, process.stderr]);
    const execContext = { ...runtime.context, ...(stdin !== undefined ? { stdin } : {}), ...(valve ? { valve } : {}) };
    outcome = await Promise.race([runFleetCommand(plan, execContext), runtime.stopped]);
  } finally {
    renderer?.stop?.();
    await runtime.close();
  }
  if (outcome === "stopped") return EXIT_CODES.interrupted;
  const json = {
    command: plan.argv,
    nodes: outcome.nodes.map((n) => ({ ...n, durationMs: Math.round(n.durationMs) })),
  };
  if (options.events) runtime.context.reporter.emit({ code: "run.result", report: json });
  else if (options.json) terminal.out(JSON.stringify(json, null, 2));
  else {
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
async function createProgressLine(total: number): Promise<(Reporter & { stop: () => void }) | undefined> {
  if (!process.stderr.isTTY) return undefined;
  const { createLogUpdate } = await import("log-update");
  const update = createLogUpdate(process.stderr);
  let done = 0;
  return {
    emit: (event) => {
      if (event.code !== "exec.finished") return;
      done += 1;
      update(`${done}/${total} nodes done`);
    },
    stop: () => update.clear(),
  };
}
