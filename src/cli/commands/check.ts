// `hive check`: run the selected nodes' health checks now; exit 1 when any fails.
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { checkFleet } from "../../health/check-fleet.js";
import { SshHost } from "../../host/ssh-host.js";
import { selectNodes } from "../../selection/selector.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";
import { renderTable } from "../table.js";

export interface CheckCommandOptions {
  on?: string;
  json?: boolean;
  parallel?: number;
}

export async function runCheck(context: CommandContext, options: CheckCommandOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const nodes = selectNodes(hive.nodes, options.on);
  const pool = new SshPool();
  const sshConfig = loadSshConfig();
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  let report;
  try {
    report = await checkFleet(nodes, {
      hostFor: (node) => new SshHost(node, resolveSshTarget(node, sshConfig), pool),
      parallel: options.parallel ?? Math.max(hive.meta.parallel, 50),
      signal: abort.signal,
    });
  } finally {
    process.off("SIGINT", onSigint);
    await pool.closeAll();
  }
  const { terminal } = context;
  const c = terminal.color;
  if (options.json) {
    terminal.out(JSON.stringify({ nodes: report.map((n) => ({ name: n.name, result: n.healthy ? "succeeded" : "failed", healthy: n.healthy, checks: n.checks })) }, null, 2));
  } else {
    const rows = report.flatMap((n) =>
      n.checks.length === 0
        ? [[c.bold(n.name), c.dim("(no checks)"), "", "", ""]]
        : n.checks.map((check) => [
            c.bold(n.name),
            check.name,
            check.passed ? c.green("pass") : c.red("FAIL"),
            `${check.latencyMs} ms`,
            check.passed ? (check.description ?? "") : (check.output.split("\n")[0] ?? "").slice(0, 100),
          ]),
    );
    terminal.out(renderTable(["NODE", "CHECK", "RESULT", "LATENCY", "DETAIL"], rows, (h) => c.dim(h)));
    const failing = report.filter((n) => !n.healthy).map((n) => n.name);
    terminal.err(failing.length === 0 ? `${report.length}/${report.length} nodes healthy` : `${report.length - failing.length}/${report.length} nodes healthy; failing: ${failing.join(", ")}`);
  }
  if (abort.signal.aborted) return EXIT_CODES.interrupted;
  return report.every((n) => n.healthy) ? EXIT_CODES.success : EXIT_CODES.failed;
}
