// The one error hierarchy, its codes (one union, documented here), and the exit-code table.

/** Every exit code hive uses. Documented in docs/cli.md; nothing else picks exit codes. */
export const EXIT_CODES = {
  /** Everything asked for succeeded (or was already so). */
  success: 0,
  /** The operation failed on at least one node. */
  failed: 1,
  /** Invalid usage, invalid hive.ts or invalid selector; nothing was done. */
  usage: 2,
  /** Interrupted by the operator (Ctrl-C, SIGTERM). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Whose fault an error is: the operator's input, or the node, the network or hive itself. */
export type Fault = "user" | "tool";

interface CodeInfo {
  fault: Fault;
  /** What the code means, one line: docs/cli.md's table is generated from these. */
  meaning: string;
}

const user = (meaning: string): CodeInfo => ({ fault: "user", meaning });
const tool = (meaning: string): CodeInfo => ({ fault: "tool", meaning });

/** Every error code hive reports, in the order docs/cli.md lists them. */
export const ERROR_CODES = {
  // Input: nothing was done (exit 2).
  E_CONFIG: user("hive.ts could not be found, loaded or validated"),
  E_SELECTOR: user("an --on selector does not parse or matches nothing"),
  E_USAGE: user("a flag value or combination hive refuses"),
  E_FLAKE: user("the flake can not be used as it is: no flake.nix, a flake.lock that needs updating, or no such attribute"),
  // Evaluation and build.
  E_EVAL: user("the node's system did not evaluate; the message is Nix's"),
  E_EVAL_WORKER: tool("an evaluator process died (out of memory, killed) before it answered for the node"),
  E_BUILD: tool("the node's system did not build; the failing derivation and its log tail are shown"),
  E_CLOSURE: tool("the local store could not list the closure to push"),
  // Reaching the node.
  E_SSH_CONNECT: tool("could not connect to the node (refused, unreachable, timed out)"),
  E_SSH_AUTH: user("the node refused every key hive offered"),
  E_SSH_DISCONNECTED: tool("the connection to the node was lost"),
  E_SSH_CHANNEL: tool("the node refused to run a command (channel limit, session refused)"),
  E_HOSTKEY_UNKNOWN: user("no known_hosts file lists the node's host key (see --accept-new-host-keys)"),
  E_HOSTKEY_CHANGED: user("the node's host key differs from the known_hosts entry: possible interception"),
  E_HOSTKEY_REVOKED: user("the node presented a host key marked @revoked"),
  E_PROBE: tool("could not read the node's state"),
  E_LOCKED: user("another hive run holds the node's lock, or an activation is still running on it"),
  E_LOCK_LOST: tool("the node's lock was taken over by another run; this run stopped touching the node"),
  // Deploying.
  E_PUSH: tool("copying the closure to the node failed"),
  E_EXPORT: tool("a store path could not be read or did not match its registered hash while exporting it"),
  E_PROFILE: tool("the node's profile could not be set; nothing changed"),
  E_ACTIVATION_START: tool("the activation could not be started on the node"),
  E_ACTIVATION: user("switch-to-configuration failed"),
  E_UNITS_FAILED: user("switch-to-configuration exited 4: some units failed to start"),
  E_UNCONFIRMED: tool("hive's confirmation did not reach the node in time; it returned to its previous system"),
  E_LOST: tool("hive lost the node during activation; the node finishes or reverts by itself"),
  E_VERIFY: tool("after activation the node does not run (or boot) what it should"),
  E_HEALTH: user("a health check failed after activation"),
  E_ROLLBACK_FAILED: tool("returning the node to its previous system failed too: the node needs attention"),
  E_NO_GENERATION: user("the generation to roll back to does not exist"),
  E_STOPPED: user("not started: too many nodes failed in earlier batches"),
  E_INTERRUPTED: user("interrupted by the operator before or while working on the node"),
  // Keys.
  E_KEY_SOURCE: user("a key's source could not be read on the deployer; the node was not touched"),
  E_KEY_CONFLICT: user("two keys of one node would be written to the same file"),
  E_KEY_TARGET: user("a key's owner, group or directory is unusable on the node; nothing was written"),
  E_KEY_UPLOAD: tool("writing or removing keys on the node failed part-way"),
  // Generated secrets (hive vars).
  E_VARS_IDENTITY: user("no age identity to decrypt vars with, or one hive cannot read or use"),
  E_VARS_STORE: user("vars/ or hive's private directory for generators cannot be read or written"),
  // Commands on nodes.
  E_TIMEOUT: user("the command ran longer than --timeout and was killed"),
  E_SIGNAL: tool("the command was killed by a signal"),
  E_NODE: tool("an unexpected failure on the node (the message says what)"),
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** `{ code, message }`: how a failure appears in reports and `--json`. */
export interface ErrorSummary {
  code: ErrorCode;
  message: string;
}

/** Base of every error hive raises on purpose; anything else is a bug and shows its stack. */
export class HiveError extends Error {
  readonly code: ErrorCode;
  /** What the operator can do about it, one line. */
  readonly hint: string | undefined;
  /** The last lines worth showing with it (Nix's output, a script's stderr). */
  readonly log: readonly string[];

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; log?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.log = options.log ?? [];
  }

  get fault(): Fault {
    return ERROR_CODES[this.code].fault;
  }

  /** Input errors stop the command before it does anything (2); everything else is a failure (1). */
  get exitCode(): ExitCode {
    return this.code === "E_CONFIG" || this.code === "E_SELECTOR" || this.code === "E_USAGE" || this.code === "E_FLAKE"
      ? EXIT_CODES.usage
      : EXIT_CODES.failed;
  }

  summary(): ErrorSummary {
    return { code: this.code, message: this.message };
  }
}

/** hive.ts could not be found, loaded or validated. Carries one line per problem. */
export class ConfigError extends HiveError {
  constructor(
    readonly problems: readonly string[],
    hint?: string,
    options?: { cause?: unknown },
  ) {
    super("E_CONFIG", problems.join("\n"), { hint, cause: options?.cause });
  }
}

/** A `--on` selector that does not parse or matches nothing. */
export class SelectorError extends HiveError {
  constructor(message: string, hint?: string) {
    super("E_SELECTOR", message, { hint });
  }
}

/** Command-line usage that hive refuses (bad flag values, forbidden combinations). */
export class UsageError extends HiveError {
  constructor(message: string, hint?: string) {
    super("E_USAGE", message, { hint });
  }
}

/** The flake itself is unusable (no flake.nix, stale lock, missing attribute): the same for every node. */
export class FlakeError extends HiveError {
  constructor(message: string, hint?: string, log: readonly string[] = []) {
    super("E_FLAKE", message, { hint, log });
  }
}

/** A failure on one node: fails that node, never the run. */
export class NodeOperationError extends HiveError {
  constructor(message: string, code: ErrorCode, log: readonly string[] = [], hint?: string) {
    super(code, message, { log, hint });
  }
}

/** `{ code, message }` for any error thrown while working on a node; codes come from typed errors. */
export function summarizeError(error: unknown): ErrorSummary {
  if (error instanceof HiveError) return error.summary();
  if (error instanceof Error) return { code: "E_NODE", message: error.message };
  return { code: "E_NODE", message: String(error) };
}

/** The log lines a typed error carries (e.g. Nix's output), at most `max`. */
export function errorLog(error: unknown, max = 20): string[] {
  return error instanceof HiveError ? error.log.slice(-max) : [];
}
