// `hive apply [GOAL]`: evaluate, build, push and activate the selected nodes (or print the plan).
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import type { ApplyOptions } from "../../plan/apply-plan.js";
import { GOALS, GOAL_HELP } from "../../plan/goal.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { type OutputOptions, machineInfo, runDeployment } from "../deployment.js";
import { addEvalOptions, addHostKeyOption, helpFooter, parseCount, parseCountOrZero, selection } from "../options.js";

type ApplyFlags = Omit<ApplyOptions, "goal"> & OutputOptions & { plan?: boolean; forceUnlock?: boolean };

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("apply")
    .description("evaluate, build, push and activate the selected nodes' systems")
    .argument("[goal]", GOALS.join(" | "), "switch")
    .addOption(selection())
    .option("--plan", "print what would be done (nodes, batches, goal, settings) and touch nothing");
  addDeployOptions(command);
  command
    .option("-p, --parallel <n>", "nodes pushed and activated at once (default meta.parallel)", parseCount)
    .option("--no-substitute", "do not let nodes fetch paths from their own substituters")
    .option("--no-keys", "do not upload the nodes' keys (hive.ts `keys`); stale keys stay too")
    .option("--reactivate", "activate even on nodes that already run the desired system")
    .option("--no-rollback", "do not roll nodes back when activation or a health check fails")
    .option("--no-magic-rollback", "do not make nodes wait for hive's confirmation (dead-man rollback)")
    .option("--batch-size <n|p%>", "deploy in batches of this many nodes (or percent of the selection), one batch after another")
    .option("--max-failures <n>", "failed nodes tolerated before no new batch starts (with batches: default 0)", parseCountOrZero)
    .option("--force-unlock", "break a node lock held by another hive run")
    .addHelpText(
      "after",
      `\nGoals:\n${GOALS.map((g) => `  ${g.padEnd(13)} ${GOAL_HELP[g]}`).join("\n")}\n` +
        helpFooter([
          "hive apply --on @server             build, push and switch the servers",
          "hive apply --on @server --plan      what that would do, touching nothing",
          "hive apply boot --on 'web-*'        install for the next boot",
          "hive apply --on @eu -p 20 --json    20 nodes at a time, JSON result for scripts",
          "hive apply --events | jq -c .       one JSON event per line as the deploy happens",
        ]),
    )
    .action(async (goal: string, options: ApplyFlags) => cli.exit(await runApply(cli.context(), goal, options)));
}

/** The flags apply and build share. */
export function addDeployOptions(command: Command): Command {
  addEvalOptions(command)
    .option("--json", "print { goal, nodes: [...] } as JSON on stdout")
    .option("--events", "print one JSON object per line on stdout as things happen, the report last")
    .option("--build-on-target", "build every selected node's system on the node itself")
    .option("--keep-result", "keep GC roots for the built systems in .hive/gcroots next to hive.ts")
    .option("--max-jobs <n>", "Nix build jobs at once", parseCount);
  return addHostKeyOption(command);
}

export async function runApply(context: CommandContext, goalText: string, options: ApplyFlags): Promise<ExitCode> {
  const { parseGoal } = await import("../../plan/goal.js");
  const goal = parseGoal(goalText);
  if (goal === "keys") {
    const { runUploadKeys } = await import("./upload-keys.js");
    return runUploadKeys(context, { ...options, asApplyGoal: true });
  }
  const hive = await loadHiveForCommand(context);
  const { describePlan, planApply } = await import("../../plan/apply-plan.js");
  const plan = planApply(hive, { ...options, goal }, await machineInfo());
  if (options.plan) {
    const { renderPlan } = await import("../../report/render-plan.js");
    context.terminal.out(options.json ? JSON.stringify(describePlan(plan), null, 2) : renderPlan(plan, context.terminal.color, tableWidth(context)));
    return EXIT_CODES.success;
  }
  const { executeApply } = await import("../../deploy/apply.js");
  return runDeployment(context, hive, plan.nodes.map((n) => n.name), options, (run) => executeApply(plan, run));
}
