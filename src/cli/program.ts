// The commander program: global options and one subcommand per file in ./commands.
import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import { register as registerApply } from "./commands/apply.js";
import { register as registerBuild } from "./commands/build.js";
import { register as registerCheck } from "./commands/check.js";
import { register as registerExec } from "./commands/exec.js";
import { register as registerHistory } from "./commands/history.js";
import { register as registerNodes } from "./commands/nodes.js";
import { register as registerRollback } from "./commands/rollback.js";
import { register as registerStatus } from "./commands/status.js";
import { register as registerUploadKeys } from "./commands/upload-keys.js";
import { register as registerVars } from "./commands/vars.js";
import type { CliBinding, GlobalOptions, RegisterCommand } from "./context.js";
import { EXIT_HELP, SELECTOR_HELP } from "./options.js";
import type { Terminal } from "./terminal.js";
import { readVersion } from "./version.js";

export interface ProgramHooks {
  terminal: Terminal;
  /** Receives each command's exit code. */
  setExitCode: (code: ExitCode) => void;
}

const COMMANDS: RegisterCommand[] = [registerNodes, registerApply, registerBuild, registerRollback, registerCheck, registerUploadKeys, registerExec, registerStatus, registerHistory, registerVars];

export function buildProgram(hooks: ProgramHooks): Command {
  const program = new Command("hive")
    .description("Deploy NixOS fleets defined in hive.ts: parallel, tag-based, health-checked, with rollback.")
    .version(readVersion(), "-V, --version", "print hive's version")
    .option("-f, --config <path>", "hive.ts to use (default: nearest hive.ts, hive.js or hive.mjs upward)")
    .option("-v, --verbose", "more output; repeat for more", (_: string, previous: number) => previous + 1, 0)
    .option("--debug", "show stack traces for errors", false)
    .option("--wide", "tables keep every column whole (by default they fit the terminal's width)", false)
    .addHelpText("after", `${SELECTOR_HELP}\n${EXIT_HELP}`)
    .showSuggestionAfterError(true);
  const cli: CliBinding = {
    context: () => ({ globals: program.opts<GlobalOptions>(), terminal: hooks.terminal }),
    exit: hooks.setExitCode,
  };
  for (const register of COMMANDS) register(program, cli);
  return program;
}
