// `hive upload-keys` (and `hive apply keys`): upload the selected nodes' keys and print a table or JSON.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode, UsageError } from "../../errors.js";
import { isFailure } from "../../events.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { addHostKeyOption, helpFooter, parseCount, selection } from "../options.js";
import { createRuntime } from "../runtime.js";

export interface UploadKeysFlags {
  on?: string;
  json?: boolean;
  events?: boolean;
  parallel?: number;
  acceptNewHostKeys?: boolean;
  forceUnlock?: boolean;
  /** Set for `hive apply keys`. */
  asApplyGoal?: boolean;
  /** `hive apply keys --no-keys` sets it false: a contradiction. */
  keys?: boolean;
}

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("upload-keys")
    .description("upload the selected nodes' keys (secrets) now, and remove keys hive.ts no longer has")
    .addOption(selection())
    .option("--json", "print { goal, nodes: [{ name, result, keys, removed, ... }] } as JSON on stdout")
    .option("--events", "print one JSON object per line on stdout as things happen, the report last")
    .option("-p, --parallel <n>", "nodes worked on at once (default meta.parallel)", parseCount)
    .option("--force-unlock", "break a node lock held by another hive run");
  addHostKeyOption(command)
    .addHelpText(
      "after",
      `
Reads every key of a node on this machine first (text, file, or command output); a source that
fails fails its node before anything on it changes. Takes the node lock, so keys are never written
while another run deploys the node. Content goes over the SSH channel only, into a file created
with its final owner and mode, then renamed into place. Same as \`hive apply keys\`; \`hive apply\`
uploads keys by itself, around activation.
` + helpFooter(["hive upload-keys                    every node", 'hive upload-keys --on @db --json    { goal: "keys", nodes: [{ name, result, keys, removed }] }']),
    )
    .action(async (options: UploadKeysFlags) => cli.exit(await runUploadKeys(cli.context(), options)));
}

export async function runUploadKeys(context: CommandContext, options: UploadKeysFlags): Promise<ExitCode> {
  if (options.keys === false) throw new UsageError("--no-keys contradicts goal keys, which uploads keys only", "drop --no-keys, or pick another goal");
  const hive = await loadHiveForCommand(context);
  const { requireSelectionUnlessAllowed } = await import("../../plan/guard.js");
  requireSelectionUnlessAllowed(hive, options.on, options.asApplyGoal ? "hive apply keys" : "hive upload-keys");
  const { selectNodes } = await import("../../selection/selector.js");
  const { uploadKeysToNodes } = await import("../../fleet/upload-keys.js");
  const nodes = selectNodes(hive.nodes, options.on);
  // Steps show with -v; results always.
  const runtime = createRuntime(context, hive, { ...options, nodeNames: nodes.map((n) => n.name), interrupt: "stop-new-work" });
  const progress = runtime.context.reporter;
  const quiet = context.globals.verbose === 0 && !options.events;
  const reporter = { emit: (e: Parameters<typeof progress.emit>[0]) => (quiet && e.code === "node.phase" ? undefined : progress.emit(e)) };
  let report;
  try {
    report = await uploadKeysToNodes(nodes, { parallel: options.parallel ?? hive.meta.parallel, forceUnlock: options.forceUnlock === true }, { ...runtime.context, reporter });
  } finally {
    await runtime.close();
  }
  const { keysReportJson, renderKeysDetails, renderKeysTable } = await import("../../report/render-keys.js");
  const { terminal } = context;
  if (options.events) progress.emit({ code: "run.result", report: keysReportJson(report) });
  else if (options.json) terminal.out(JSON.stringify(keysReportJson(report), null, 2));
  else {
    for (const line of renderKeysDetails(report, terminal.errColor)) terminal.err(line);
    terminal.out(renderKeysTable(report, terminal.color, tableWidth(context)));
  }
  if (report.interrupted) return EXIT_CODES.interrupted;
  return report.nodes.some((n) => isFailure(n.result)) ? EXIT_CODES.failed : EXIT_CODES.success;
}
