// `hive status`: per node, what runs against what hive.ts wants; exit 0 only when all are reachable, in sync and healthy.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import type { ApplyOptions } from "../../plan/apply-plan.js";
import { type CliBinding, type CommandContext, loadHiveForCommand } from "../context.js";
import { machineInfo } from "../deployment.js";
import { addEvalOptions, addHostKeyOption, helpFooter, selection } from "../options.js";
import { createRuntime } from "../runtime.js";

type StatusFlags = Pick<ApplyOptions, "on" | "evalWorkers" | "evalMemory" | "evalCache" | "showTrace"> & { json?: boolean; acceptNewHostKeys?: boolean };

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("status")
    .description("what each node runs against what hive.ts wants: in-sync, drift, activating or unknown")
    .addOption(selection())
    .option("--json", "print { nodes: [...], inSync, total } as JSON on stdout");
  addHostKeyOption(addEvalOptions(command))
    .addHelpText(
      "after",
      `
Per node: SSH latency, the running system and its generation, when that was activated, the
verdict against hive.ts (evaluated now, not built), uptime, failed systemd units, health, who
deployed it, and needs-reboot when the booted kernel differs. Exit 0 only when every selected
node is reachable, in sync and healthy: fit for cron and scripts.
` + helpFooter(["hive status                          the whole fleet", `hive status --on @server --json | jq -r '.nodes[] | select(.verdict != "in-sync") | .name'`]),
    )
    .action(async (options: StatusFlags) => cli.exit(await runStatus(cli.context(), options)));
}

async function runStatus(context: CommandContext, options: StatusFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { planEvaluation } = await import("../../plan/apply-plan.js");
  const { collectStatus, evaluateDesired, isNodeOk } = await import("../../fleet/status.js");
  const settings = planEvaluation(options, await machineInfo(), hive.nodes.length);
  const { terminal } = context;
  const runtime = createRuntime(context, hive, { ...options, nodeNames: [], interrupt: "stop-commands" });
  const { context: run } = runtime;
  let report;
  try {
    report = await collectStatus({ ...(options.on === undefined ? {} : { on: options.on }), eval: settings }, run, evaluateDesired(run));
  } finally {
    await runtime.close();
  }
  if (run.signal.aborted) return EXIT_CODES.interrupted;
  const { renderStatusTable, summarizeStatus } = await import("../../report/render-status.js");
  if (options.json) terminal.out(JSON.stringify(report, null, 2));
  else {
    terminal.out(renderStatusTable(report, terminal.color));
    terminal.out(summarizeStatus(report, terminal.color));
  }
  return report.nodes.every(isNodeOk) ? EXIT_CODES.success : EXIT_CODES.failed;
}
