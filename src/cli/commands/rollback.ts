// `hive rollback`: back to the previous (or a given) generation, with checks, like apply.
import type { Command } from "commander";
import type { ExitCode } from "../../errors.js";
import type { RollbackOptions } from "../../plan/rollback-plan.js";
import { type CliBinding, type CommandContext, loadHiveForCommand } from "../context.js";
import { type OutputOptions, runDeployment } from "../deployment.js";
import { addHostKeyOption, helpFooter, parseCount, selection } from "../options.js";

type RollbackFlags = RollbackOptions & OutputOptions;

export function register(program: Command, cli: CliBinding): void {
  const command = program
    .command("rollback")
    .description("switch nodes back to their previous (or a given) generation, with health checks")
    .addOption(selection())
    .option("--to <generation>", "the generation to return to (default: the one before the current)", parseCount)
    .option("--json", 'print { goal: "rollback", nodes: [...] } as JSON on stdout')
    .option("--events", "print one JSON object per line on stdout as things happen, the report last")
    .option("-p, --parallel <n>", "nodes rolled back at once (default meta.parallel)", parseCount)
    .option("--no-rollback", "do not return to the current generation when the old one fails its checks")
    .option("--no-magic-rollback", "do not make nodes wait for hive's confirmation")
    .option("--force-unlock", "break a node lock held by another hive run");
  addHostKeyOption(command)
    .addHelpText(
      "after",
      `\nWithout --on, every node goes back, unless hive.ts sets meta.allowApplyAll = false.\n` +
        helpFooter([
          "hive rollback --on web-1            back to the generation before the current one",
          "hive rollback --on web-1 --to 41    back to generation 41 (see `hive history --on web-1`)",
        ]),
    )
    .action(async (options: RollbackFlags) => cli.exit(await runRollback(cli.context(), options)));
}

async function runRollback(context: CommandContext, options: RollbackFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { planRollback } = await import("../../plan/rollback-plan.js");
  const plan = planRollback(hive, options);
  const { executeRollback } = await import("../../deploy/rollback.js");
  return runDeployment(context, hive, plan.nodes.map((n) => n.name), options, (run) => executeRollback(plan, run));
}
