// `hive history --on NODE`: the node's profile generations, which one runs, and hive's record of each.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { addHostKeyOption, helpFooter, selection } from "../options.js";
import { createRuntime } from "../runtime.js";

interface HistoryFlags {
  on?: string;
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("history")
    .description("a node's system generations (number, date, system, which one runs) and its deploys, rollbacks and failures")
    .addOption(selection("the node (or nodes) to list; required"))
    .option("--json", "print { nodes: [{ name, generations: [...] }] } as JSON on stdout");
  addHostKeyOption(command)
    .addHelpText("after", helpFooter(["hive history --on web-1", "hive history --on web-1 --json | jq '.nodes[0].generations[] | select(.current)'"]))
    .action(async (options: HistoryFlags) => cli.exit(await runHistory(cli.context(), options)));
}

async function runHistory(context: CommandContext, options: HistoryFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { collectHistory, selectHistoryNodes } = await import("../../fleet/history.js");
  const nodes = selectHistoryNodes(hive, options.on);
  const { terminal } = context;
  const runtime = createRuntime(context, hive, { ...options, nodeNames: [], interrupt: "stop-commands" });
  let report;
  try {
    report = await collectHistory(nodes, runtime.context.hostFor);
  } finally {
    await runtime.close();
  }
  const { renderEventsTable, renderHistoryTable } = await import("../../report/render-history.js");
  if (options.json) terminal.out(JSON.stringify(report, null, 2));
  else {
    const width = tableWidth(context);
    terminal.out(renderHistoryTable(report, terminal.color, width));
    const events = renderEventsTable(report, terminal.color, width);
    if (events !== "") terminal.out(`\n${events}`);
  }
  for (const node of report.nodes) {
    if (node.error) terminal.err(`${terminal.errColor.red("error:")} ${node.error.message}`);
  }
  return report.nodes.some((n) => n.error !== null) ? EXIT_CODES.failed : EXIT_CODES.success;
}
