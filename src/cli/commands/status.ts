// `hive status`: per node, what runs against what hive.ts wants and why; exit 0 only when all are reachable, in sync and healthy.
import { Option, type Command } from "commander";
import { EXIT_CODES, type ExitCode, UsageError } from "../../errors.js";
import type { ApplyOptions } from "../../plan/apply-plan.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { machineInfo } from "../deployment.js";
import { addEvalOptions, addHostKeyOption, helpFooter, selection } from "../options.js";
import { createRuntime } from "../runtime.js";

type StatusFlags = Pick<ApplyOptions, "on" | "evalWorkers" | "evalMemory" | "evalCache" | "showTrace"> & {
  json?: boolean;
  format?: "table" | "json" | "openmetrics";
  prometheus?: boolean;
  acceptNewHostKeys?: boolean;
};

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("status")
    .description("what each node runs against what hive.ts wants, and why: in-sync, drift, activating or unknown")
    .addOption(selection())
    .option("--json", "print { nodes: [...], inSync, total, commit, dirty } as JSON on stdout (same as --format json)")
    .addOption(new Option("--format <format>", "table, json, or openmetrics (metrics for node_exporter's textfile collector)").choices(["table", "json", "openmetrics"]))
    .option("--prometheus", "same as --format openmetrics");
  addHostKeyOption(addEvalOptions(command))
    .addHelpText(
      "after",
      `
Per node: SSH latency, verdict, the running system, its generation, when it was activated and
from which commit, uptime, load, memory and disk use, health, who deployed it, and notes; then
hive.ts's services (unit state, port, check), then why each node that is not fine is as it is
(rolled back because a check failed, changed outside hive, hive.ts changed since a commit, a key
missing, a service down). Exit 0 only when every selected node is reachable, in sync and healthy,
with its services up and its keys in place: fit for cron and scripts. Tables fit the terminal
(--wide keeps every column whole).
` +
        helpFooter([
          "hive status                          the whole fleet",
          `hive status --on @server --json | jq -r '.nodes[] | select(.verdict != "in-sync") | .name'`,
          "hive status --format openmetrics > /var/lib/node_exporter/hive.prom.$$; mv /var/lib/node_exporter/hive.prom.$$ /var/lib/node_exporter/hive.prom",
        ]),
    )
    .action(async (options: StatusFlags) => cli.exit(await runStatus(cli.context(), options)));
}

async function runStatus(context: CommandContext, options: StatusFlags): Promise<ExitCode> {
  const format = outputFormat(options);
  const hive = await loadHiveForCommand(context);
  const { planEvaluation } = await import("../../plan/apply-plan.js");
  const { collectStatus, evaluateDesired, isNodeOk } = await import("../../fleet/status.js");
  const settings = planEvaluation(options, await machineInfo(), hive.nodes.length);
  const { terminal } = context;
  // No live view: the table says it all; warnings (evaluation, stale locks) still go to stderr.
  const runtime = createRuntime(context, hive, { json: true, nodeNames: [], interrupt: "stop-commands", ...(options.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}) });
  const { context: run } = runtime;
  let report;
  try {
    report = await collectStatus({ ...(options.on === undefined ? {} : { on: options.on }), eval: settings }, run, evaluateDesired(run));
  } finally {
    await runtime.close();
  }
  if (run.signal.aborted) return EXIT_CODES.interrupted;
  if (format === "json") terminal.out(JSON.stringify(report, null, 2));
  else if (format === "openmetrics") {
    const { renderOpenMetrics } = await import("../../report/render-metrics.js");
    terminal.out(renderOpenMetrics(report));
  } else {
    const { renderServicesTable, renderStatusDetails, renderStatusTable, summarizeStatus, wrap } = await import("../../report/render-status.js");
    const width = tableWidth(context);
    terminal.out(renderStatusTable(report, terminal.color, width));
    const services = renderServicesTable(report, terminal.color, width);
    if (services !== "") terminal.out(`\n${services}`);
    const details = renderStatusDetails(report, terminal.color, width);
    if (details.length > 0) terminal.out(`\n${details.join("\n")}`);
    terminal.out(wrap(summarizeStatus(report, terminal.color), width).join("\n  "));
  }
  return report.nodes.every(isNodeOk) ? EXIT_CODES.success : EXIT_CODES.failed;
}

function outputFormat(options: StatusFlags): "table" | "json" | "openmetrics" {
  const asked = [options.json ? "json" : null, options.prometheus ? "openmetrics" : null, options.format ?? null].filter((f) => f !== null);
  if (new Set(asked).size > 1) throw new UsageError(`--json, --prometheus and --format ${options.format ?? ""} ask for different outputs`, "give one of them");
  return (asked[0] as "json" | "openmetrics" | "table" | undefined) ?? "table";
}
