// `hive status`: per node, what runs against what hive.ts wants; exit 0 only when all are reachable, in sync and healthy.
import { setMaxListeners } from "node:events";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { collectStatus, isNodeOk } from "../../fleet/status.js";
import { healthFromChecks } from "../../fleet/status-health.js";
import { execaRunner } from "../../nix/runner.js";
import { renderStatusTable, summarizeStatus } from "../../report/render-status.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";

export interface StatusCommandOptions {
  on?: string;
  json?: boolean;
  evalNodeLimit?: number;
  showTrace?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runStatus(context: CommandContext, options: StatusCommandOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { terminal } = context;
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const onSigint = () => abort.abort();
  process.on("SIGINT", onSigint);
  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  let report;
  try {
    report = await collectStatus(options, {
      hive,
      runner: execaRunner,
      connect: (node) => pool.connect(resolveSshTarget(node, sshConfig)),
      signal: abort.signal,
      checkHealth: healthFromChecks(abort.signal),
    });
  } finally {
    process.off("SIGINT", onSigint);
    await pool.closeAll();
  }
  if (abort.signal.aborted) return EXIT_CODES.interrupted;

  if (options.json) {
    terminal.out(JSON.stringify(report, null, 2));
  } else {
    terminal.out(renderStatusTable(report, terminal.color));
    terminal.out(summarizeStatus(report, terminal.color));
  }
  return report.nodes.every(isNodeOk) ? EXIT_CODES.success : EXIT_CODES.failed;
}
