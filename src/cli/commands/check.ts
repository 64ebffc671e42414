// `hive check`: run the selected nodes' health checks now; exit 1 when any fails.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { addHostKeyOption, helpFooter, parseCount, selection } from "../options.js";
import { createRuntime } from "../runtime.js";
import type { Delivery } from "../../fleet/alerts.js";

interface CheckFlags {
  on?: string;
  json?: boolean;
  parallel?: number;
  fast?: boolean;
  notify?: string;
  acceptNewHostKeys?: boolean;
}

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("check")
    .description("run the selected nodes' health checks now, without deploying")
    .addOption(selection())
    .option("--json", "print { nodes: [{ name, healthy, checks: [...] }] } as JSON on stdout")
    .option("-p, --parallel <n>", "nodes checked at once (default 50)", parseCount)
    .option("--fast", "one attempt per check, within its timeout (for cron): no retries until the deadline")
    .option("--notify <cmd|url>", "alert on state changes only (degraded, recovered): a URL gets a JSON POST, a command the JSON on stdin");
  addHostKeyOption(command)
    .addHelpText(
      "after",
      `\nExit code 1 when any check fails (or an alert could not be sent): made for cron jobs and agents.
An unreachable node is reported at once; its checks are not run. With --notify, hive remembers each
check's last state ($XDG_STATE_HOME/hive/alerts, private to you) and alerts only when it changes: the
payload is { node, check, state, since, degradedSince, output, hiveFile } (check null: the node's SSH).\n` +
        helpFooter([
          "hive check                          every node's checks",
          "hive check --on @ai --json          { nodes: [{ name, healthy, reachable, checks: [{ name, passed, latencyMs, output }] }] }",
          "hive check --fast --notify 'mail -s hive ops@example.org'",
          "hive check --fast --notify https://ntfy.example.org/hive",
        ]),
    )
    .action(async (options: CheckFlags) => cli.exit(await runCheck(cli.context(), options)));
}

async function runCheck(context: CommandContext, options: CheckFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { selectNodes } = await import("../../selection/selector.js");
  const { checkFleet } = await import("../../fleet/check.js");
  const nodes = selectNodes(hive.nodes, options.on);
  // Progress only with -v: the table says it all.
  const runtime = createRuntime(context, hive, { ...options, nodeNames: nodes.map((n) => n.name), interrupt: "stop-commands", ...(context.globals.verbose > 0 ? {} : { reporter: { emit: () => {} } }) });
  let report;
  let deliveries: Delivery[] = [];
  try {
    report = await checkFleet(nodes, { parallel: options.parallel ?? Math.max(hive.meta.parallel, 50), once: options.fast === true }, runtime.context);
    // An interrupted run saw only part of the fleet: it must not decide what changed.
    if (options.notify !== undefined && !runtime.context.signal.aborted) deliveries = await (await import("../../fleet/alerts.js")).notifyFleet(options.notify, report, runtime.context);
  } finally {
    await runtime.close();
  }
  const { terminal } = context;
  const { checkReportJson, renderAlerts, renderCheckTable, summarizeCheck } = await import("../../report/render-check.js");
  if (options.json) terminal.out(JSON.stringify({ ...(checkReportJson(report) as object), ...(options.notify === undefined ? {} : { alerts: deliveries }) }, null, 2));
  else {
    terminal.out(renderCheckTable(report, terminal.color, tableWidth(context)));
    terminal.err(summarizeCheck(report));
  }
  for (const line of renderAlerts(deliveries, terminal.errColor)) terminal.err(line);
  if (runtime.context.signal.aborted) return EXIT_CODES.interrupted;
  return report.every((n) => n.healthy) && deliveries.every((d) => d.delivered) ? EXIT_CODES.success : EXIT_CODES.failed;
}
