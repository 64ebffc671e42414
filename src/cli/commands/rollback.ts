// `hive rollback`: back to the previous (or a given) generation, with checks, like apply.
import type { ExitCode } from "../../errors.js";
import { executeRollback, planRollback } from "../../plan/rollback.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";
import { runNodeOperation } from "./apply.js";

export interface RollbackCommandOptions {
  on?: string;
  to?: number;
  json?: boolean;
  parallel?: number;
  rollback?: boolean;
  magicRollback?: boolean;
  forceUnlock?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runRollback(context: CommandContext, options: RollbackCommandOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const plan = planRollback(hive, options);
  return runNodeOperation(context, hive, plan.nodes.map((n) => n.name), options, (operation) => executeRollback(plan, operation));
}
