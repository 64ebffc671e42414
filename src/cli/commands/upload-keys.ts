// `hive upload-keys` and `hive apply keys`: upload the selected nodes' keys and print a table or JSON.
import { EXIT_CODES, type ExitCode, UsageError } from "../../errors.js";
import { SshHost } from "../../host/ssh-host.js";
import { type KeyRunEvent, type KeyRunReport, uploadKeysToNodes } from "../../keys/fleet.js";
import { execaRunner } from "../../nix/runner.js";
import { resultColor } from "../../report/render-apply.js";
import { isFailure } from "../../report/results.js";
import { selectNodes } from "../../selection/selector.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";
import { renderTable } from "../table.js";

export interface UploadKeysCommandOptions {
  on?: string;
  json?: boolean;
  parallel?: number;
  acceptNewHostKeys?: boolean;
  /** Set for `hive apply keys`: meta.allowApplyAll = false then needs --on, as for any apply. */
  asApplyGoal?: boolean;
  /** `hive apply keys --no-keys` sets it false: a contradiction. */
  keys?: boolean;
}

export async function runUploadKeys(context: CommandContext, options: UploadKeysCommandOptions): Promise<ExitCode> {
  if (options.keys === false) throw new UsageError("--no-keys contradicts goal keys, which uploads keys only", "drop --no-keys, or pick another goal");
  const hive = await loadHiveForCommand(context);
  if (options.asApplyGoal && options.on === undefined && !hive.meta.allowApplyAll) {
    throw new UsageError(
      "hive.ts sets meta.allowApplyAll = false: deploying to every node needs an explicit selection",
      "pass --on SELECTOR (e.g. --on @server), or set meta.allowApplyAll to true",
    );
  }
  const nodes = selectNodes(hive.nodes, options.on);
  const { terminal } = context;
  const e = terminal.errColor;
  const width = Math.max(0, ...nodes.map((n) => n.name.length));
  const emit = (event: KeyRunEvent) => {
    if (context.globals.verbose === 0 && event.kind === "key-step") return;
    const prefix = `${e.cyan(event.node.padEnd(width))} | `;
    if (event.kind === "key-step") terminal.err(`${prefix}${event.step}`);
    else if (event.result === "failed") terminal.err(`${prefix}${e.red("failed")}${event.message ? `: ${event.message}` : ""}`);
    else terminal.err(`${prefix}${resultColor(e, event.result)(event.result)} (${(event.durationMs / 1000).toFixed(1)}s)`);
  };

  // First Ctrl-C: start no new node; uploads under way finish (each is one short script).
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    terminal.err(e.yellow("interrupted: starting no new node; uploads under way finish"));
  };
  process.on("SIGINT", onSigint);
  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  let report: KeyRunReport;
  try {
    report = await uploadKeysToNodes(nodes, {
      hostFor: (node) => new SshHost(node, resolveSshTarget(node, sshConfig), pool),
      runner: execaRunner,
      cwd: hive.dir,
      parallel: options.parallel ?? hive.meta.parallel,
      interrupted: () => interrupts > 0,
      emit,
    });
  } finally {
    process.off("SIGINT", onSigint);
    await pool.closeAll();
  }
  printKeysReport(context, report, options.json === true);
  if (report.interrupted) return EXIT_CODES.interrupted;
  return report.nodes.some((n) => isFailure(n.result)) ? EXIT_CODES.failed : EXIT_CODES.success;
}

export function printKeysReport(context: CommandContext, report: KeyRunReport, json: boolean): void {
  const { terminal } = context;
  if (json) {
    terminal.out(
      JSON.stringify(
        {
          goal: "keys",
          nodes: report.nodes.map((n) => ({ name: n.name, result: n.result, keys: n.keys, removed: n.removed, durationMs: n.durationMs, error: n.error })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const e = terminal.errColor;
  for (const node of report.nodes.filter((n) => isFailure(n.result) && n.log.length > 0)) {
    terminal.err(`${e.red.bold(`${node.name} failed`)}; last lines of its log:`);
    for (const line of node.log) terminal.err(`  ${e.dim(line)}`);
  }
  const c = terminal.color;
  terminal.out(
    renderTable(
      ["NODE", "RESULT", "KEYS", "DURATION", "ERROR"],
      report.nodes.map((n) => [
        c.bold(n.name),
        resultColor(c, n.result)(n.result),
        summarizeKeys(n),
        `${(n.durationMs / 1000).toFixed(1)}s`,
        n.error ? n.error.message.split("\n")[0]!.slice(0, 160) : "",
      ]),
      (h) => c.dim(h),
    ),
  );
}

/** `2 written, 1 unchanged, 1 removed`, or `-`. */
function summarizeKeys(node: { keys: { outcome: string }[]; removed: unknown[] }): string {
  const written = node.keys.filter((k) => k.outcome === "written").length;
  const unchanged = node.keys.length - written;
  const parts = [written > 0 ? `${written} written` : "", unchanged > 0 ? `${unchanged} unchanged` : "", node.removed.length > 0 ? `${node.removed.length} removed` : ""];
  return parts.filter((p) => p !== "").join(", ") || "-";
}
