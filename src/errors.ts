// The error hierarchy and the one table that maps outcomes to process exit codes.

/** Every exit code hive uses. Documented in docs/cli.md; nothing else picks exit codes. */
export const EXIT_CODES = {
  /** Everything asked for succeeded (or was already so). */
  success: 0,
  /** The operation failed on at least one node. */
  failed: 1,
  /** Invalid usage, invalid hive.ts or invalid selector; nothing was done. */
  usage: 2,
  /** Interrupted by the operator (Ctrl-C). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Whose fault an error is: the operator's input, or hive itself / the environment. */
export type Fault = "user" | "tool";

/** Base of every error hive raises on purpose; anything else is a bug and shows its stack. */
export abstract class HiveError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  abstract readonly fault: Fault;

  constructor(
    message: string,
    /** What the operator can do about it, one line. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** hive.ts could not be found, loaded or validated. Carries one line per problem. */
export class ConfigError extends HiveError {
  readonly code = "E_CONFIG";
  readonly exitCode = EXIT_CODES.usage;
  readonly fault = "user";

  constructor(
    readonly problems: readonly string[],
    hint?: string,
    options?: { cause?: unknown },
  ) {
    super(problems.join("\n"), hint, options);
  }
}

/** A `--on` selector that does not parse or matches nothing. */
export class SelectorError extends HiveError {
  readonly code = "E_SELECTOR";
  readonly exitCode = EXIT_CODES.usage;
  readonly fault = "user";
}

/** Command-line usage that hive refuses (bad flag values, forbidden combinations). */
export class UsageError extends HiveError {
  readonly code = "E_USAGE";
  readonly exitCode = EXIT_CODES.usage;
  readonly fault = "user";
}
