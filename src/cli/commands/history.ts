// `hive history --on NODE`: the node's profile generations, which one runs, and hive's record of each.
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { collectHistory, selectHistoryNodes } from "../../fleet/history.js";
import { renderHistoryTable } from "../../report/render-status.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";

export interface HistoryCommandOptions {
  on?: string;
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runHistory(context: CommandContext, options: HistoryCommandOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const nodes = selectHistoryNodes(hive, options.on);
  const { terminal } = context;
  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  let report;
  try {
    report = await collectHistory(nodes, { connect: (node) => pool.connect(resolveSshTarget(node, sshConfig)) });
  } finally {
    await pool.closeAll();
  }
  if (options.json) terminal.out(JSON.stringify(report, null, 2));
  else terminal.out(renderHistoryTable(report, terminal.color));
  for (const node of report.nodes) {
    if (node.error) terminal.err(`${terminal.errColor.red("error:")} ${node.error.message}`);
  }
  return report.nodes.some((n) => n.error !== null) ? EXIT_CODES.failed : EXIT_CODES.success;
}
