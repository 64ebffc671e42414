// What every command shares: global options, loading hive.ts and printing its warnings.
import type { Hive } from "../config/normalize.js";
import type { Terminal } from "./terminal.js";

export interface GlobalOptions {
  config?: string;
  verbose: number;
  debug: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  terminal: Terminal;
}

/** Load hive.ts (zod and jiti load only here, to keep `hive --version` fast) and show its warnings. */
export async function loadHiveForCommand(context: CommandContext): Promise<Hive> {
  const { loadHive } = await import("../config/load.js");
  const hive = await loadHive({ file: context.globals.config });
  const { terminal } = context;
  for (const warning of hive.warnings) terminal.err(`${terminal.errColor.yellow("warning:")} ${warning}`);
  return hive;
}
