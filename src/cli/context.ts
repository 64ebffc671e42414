// What every command shares: global options, the terminal, loading hive.ts and printing its warnings.
import type { Command } from "commander";
import type { Hive } from "../config/normalize.js";
import type { ExitCode } from "../errors.js";
import type { Terminal } from "./terminal.js";

export interface GlobalOptions {
  config?: string;
  verbose: number;
  debug: boolean;
  /** --wide: tables keep every column whole, whatever the terminal's width. */
  wide?: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  terminal: Terminal;
}

/** What a command file gets to register itself: the context of the run, and where its exit code goes. */
export interface CliBinding {
  context(): CommandContext;
  exit(code: ExitCode): void;
}

/** A command file's one export: it defines its subcommand, flags, help and handler. */
export type RegisterCommand = (program: Command, cli: CliBinding) => void;

/** The width tables must fit: the terminal's, unless --wide (or stdout is not a terminal). */
export function tableWidth(context: CommandContext): number | null {
  return context.globals.wide ? null : context.terminal.width;
}

/** Load hive.ts (zod and jiti load only here, to keep `hive --version` fast) and show its warnings. */
export async function loadHiveForCommand(context: CommandContext): Promise<Hive> {
  const { loadHive } = await import("../config/load.js");
  const hive = await loadHive({ file: context.globals.config });
  const { terminal } = context;
  for (const warning of hive.warnings) terminal.err(`${terminal.errColor.yellow("warning:")} ${warning}`);
  return hive;
}
