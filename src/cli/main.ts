// Entry point of the `hive` binary: runs the program and turns every outcome into one exit code.
import { CommanderError } from "commander";
import { EXIT_CODES, HiveError } from "../errors.js";
import { foreignWordHint } from "./foreign-words.js";
import { installInterruptHandlers } from "./interrupts.js";
import { buildProgram } from "./program.js";
import { type Terminal, createTerminal } from "./terminal.js";

export async function run(argv: readonly string[], terminal: Terminal = createTerminal()): Promise<number> {
  installInterruptHandlers();
  let exitCode: number = EXIT_CODES.success;
  const program = buildProgram({ terminal, setExitCode: (code) => (exitCode = code) });
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => terminal.out(s.replace(/\n$/, "")),
    writeErr: (s) => terminal.err(s.replace(/\n$/, "")),
    outputError: (s, write) => write(terminal.errColor.red(s)),
  });
  // Every level, `hive vars generate` included: commander must not exit by itself.
  const overrideExits = (command: typeof program) => command.commands.forEach((sub) => overrideExits(sub.exitOverride()));
  overrideExits(program);
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    return reportError(error, terminal, argv.includes("--debug"));
  }
}

/** The one place errors become messages and exit codes. */
export function reportError(error: unknown, terminal: Terminal, debug: boolean): number {
  const c = terminal.errColor;
  if (error instanceof CommanderError) {
    // help and version "errors" are successful exits; everything else is usage.
    if (error.exitCode === 0) return EXIT_CODES.success;
    const word = /'([^']+)'/.exec(error.message)?.[1];
    const kind = error.code === "commander.unknownCommand" ? "command" : error.code === "commander.unknownOption" ? "option" : undefined;
    const hint = kind && word ? foreignWordHint(kind, word) : undefined;
    if (hint) terminal.err(`${c.dim("hint:")} ${hint}`);
    return EXIT_CODES.usage;
  }
  if (error instanceof HiveError) {
    terminal.err(error.message.split("\n").map((line) => `${c.red("error:")} ${line}`).join("\n"));
    if (error.hint) terminal.err(`${c.dim("hint:")} ${error.hint}`);
    if (debug && error.stack) terminal.err(c.dim(error.stack));
    if (debug && error.cause instanceof Error && error.cause.stack) terminal.err(c.dim(`cause: ${error.cause.stack}`));
    return error.exitCode;
  }
  terminal.err(`${c.red("internal error:")} ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  terminal.err("this is a bug in hive; please report it with the output above");
  return EXIT_CODES.failed;
}
