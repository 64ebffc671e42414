// `hive apply [GOAL]` and `hive build`: deploy the selected nodes and print a table or JSON.
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { SshHost } from "../../host/ssh-host.js";
import { execaRunner } from "../../nix/runner.js";
import type { Hive } from "../../config/normalize.js";
import { type ApplyContext, type ApplyOptions, type ApplyReport, executeApply, planApply } from "../../plan/apply.js";
import { parseGoal } from "../../plan/goal.js";
import { createLiveRenderer, createPlainRenderer, resultColor } from "../../report/render-apply.js";
import { isFailure } from "../../report/results.js";
import { SshPool } from "../../ssh/pool.js";
import { loadSshConfig } from "../../config/ssh-config.js";
import { resolveSshTarget } from "../../ssh/target.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";
import { readVersion } from "../program.js";
import { renderTable } from "../table.js";

/** The flags: every core option but the goal (a positional argument), plus output and SSH trust. */
export interface ApplyCommandOptions extends Omit<ApplyOptions, "goal"> {
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runApply(context: CommandContext, goalText: string, options: ApplyCommandOptions): Promise<ExitCode> {
  const goal = parseGoal(goalText);
  const hive = await loadHiveForCommand(context);
  const plan = planApply(hive, { ...options, goal });
  return runNodeOperation(context, hive, plan.nodes.map((n) => n.name), options, (operation) => executeApply(plan, operation));
}

/**
 * What apply and rollback share: a renderer (live on a TTY, plain lines otherwise), Ctrl-C
 * handling (first: start nothing new; second: stop waiting), the SSH pool, and the final report.
 */
export async function runNodeOperation(
  context: CommandContext,
  hive: Hive,
  names: string[],
  options: { json?: boolean; acceptNewHostKeys?: boolean },
  execute: (operation: ApplyContext) => Promise<ApplyReport>,
): Promise<ExitCode> {
  const { terminal } = context;
  const verbose = context.globals.verbose > 0;
  // A terminal that reports no width (e.g. a pty nobody sized) gets plain lines: live redraws need one.
  const live = !options.json && process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0 && process.env["CI"] === undefined;
  const liveRenderer = live ? createLiveRenderer({ stream: process.stderr, color: terminal.errColor, verbose, nodeNames: names }) : undefined;
  const reporter = liveRenderer ?? createPlainRenderer({ write: terminal.err, color: terminal.errColor, verbose, nodeNames: names });

  let interrupts = 0;
  let stopWaiting: (() => void) | undefined;
  const stopped = new Promise<"stopped">((resolve) => (stopWaiting = () => resolve("stopped")));
  const onSigint = () => {
    interrupts += 1;
    reporter.emit({ kind: "interrupt", count: interrupts });
    if (interrupts >= 2) stopWaiting?.();
  };
  process.on("SIGINT", onSigint);

  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  let outcome: ApplyReport | "stopped";
  try {
    outcome = await Promise.race([
      execute({
        hive,
        runner: execaRunner,
        hostFor: (node) => new SshHost(node, resolveSshTarget(node, sshConfig), pool),
        reporter,
        interrupted: () => interrupts > 0,
        hiveVersion: readVersion(),
      }),
      stopped,
    ]);
  } finally {
    liveRenderer?.stop();
    process.off("SIGINT", onSigint);
    if (interrupts < 2) await pool.closeAll();
  }
  if (outcome === "stopped") {
    terminal.err(terminal.errColor.yellow("stopped waiting; activations already started finish (or revert) on their nodes by themselves"));
    return EXIT_CODES.interrupted;
  }
  printApplyReport(context, outcome, options.json === true);
  if (outcome.interrupted) return EXIT_CODES.interrupted;
  return outcome.nodes.some((n) => isFailure(n.result)) ? EXIT_CODES.failed : EXIT_CODES.success;
}

export function printApplyReport(context: CommandContext, report: ApplyReport, json: boolean): void {
  const { terminal } = context;
  if (json) {
    terminal.out(
      JSON.stringify(
        {
          goal: report.goal,
          nodes: report.nodes.map((n) => ({
            name: n.name,
            result: n.result,
            drvPath: n.drvPath,
            outPath: n.outPath,
            durationMs: n.durationMs,
            error: n.error,
            checks: n.checks,
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const c = terminal.color;
  for (const node of report.nodes.filter((n) => isFailure(n.result) && n.log.length > 0)) {
    const e = terminal.errColor;
    terminal.err(`${e.red.bold(`${node.name} ${node.result}`)}${node.error ? `: ${node.error.message.split("\n")[0]}` : ""}; last lines of its log:`);
    for (const line of node.log) terminal.err(`  ${e.dim(line)}`);
  }
  terminal.out(
    renderTable(
      ["NODE", "GOAL", "RESULT", "DURATION", "SYSTEM", "ERROR"],
      report.nodes.map((n) => [
        c.bold(n.name),
        report.goal,
        resultColor(c, n.result)(n.result),
        `${(n.durationMs / 1000).toFixed(1)}s`,
        shortStorePath(n.outPath),
        n.error ? n.error.message.split("\n")[0]!.slice(0, 100) : "",
      ]),
      (h) => c.dim(h),
    ),
  );
}

/** `/nix/store/abcd...-nixos-system-web-1-2` -> `abcdefgh-nixos-system-web-1-2`. */
export function shortStorePath(path: string | null): string {
  if (path === null) return "-";
  const base = path.replace(/^\/nix\/store\//, "");
  return base.replace(/^([0-9a-z]{8})[0-9a-z]{24}/, "$1");
}
