// Options and help text several commands share, and the parsers of flag values.
import { type Command, InvalidArgumentError, Option } from "commander";

export const SELECTOR_HELP = `
Selectors (--on):
  web-1,web-2        the nodes named web-1 and web-2 (',' is OR)
  @server            the nodes tagged server
  %zerotier.peer     the nodes with role peer of service zerotier (hive.ts inventory); %zerotier: any role
  'web-*' '@gpu-*'   globs over names and tags (* ? [abc])
  '@server&@eu'      servers in eu ('&' is AND)
  '@server&!@eu'     servers outside eu ('!' is NOT)
  '@server,!web-3'   servers except web-3; '!@eu' alone: every node outside eu
  Quote selectors that contain '!', '&' or globs in your shell.`;

export const EXIT_HELP = `
Exit codes: 0 success, 1 failed on at least one node, 2 invalid usage, hive.ts, flake or selector, 130 interrupted (Ctrl-C, SIGTERM).`;

/** Examples, then the selector grammar and exit codes: the footer of every command that acts on nodes. */
export function helpFooter(examples: readonly string[]): string {
  return `\nExamples:\n${examples.map((e) => `  $ ${e}`).join("\n")}\n${SELECTOR_HELP}\n${EXIT_HELP}`;
}

export const selection = (what = "act on these nodes (names, @tags, %roles, globs; see below)") => new Option("--on <selector>", what);

export function addHostKeyOption(command: Command): Command {
  return command.option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)");
}

/** How nodes are evaluated: apply, build and status. */
export function addEvalOptions(command: Command): Command {
  return command
    .option("--eval-workers <n>", "evaluator processes at once (default: CPUs, within --eval-memory)", parseCount)
    .option("--eval-memory <size>", "memory all evaluators may use together, e.g. 8G (default: half of what is available)", parseBytes)
    .option("--no-eval-cache", "evaluate even when the evaluation cache knows the answer")
    .option("--show-trace", "pass --show-trace to Nix evaluation; the whole trace goes into the node's log");
}

export function parseCountOrZero(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

/** `512M`, `8G`, `1.5GiB`, or a number of bytes. */
export function parseBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected a size such as 512M or 8G");
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1) throw new InvalidArgumentError("expected a size of at least 1 byte");
  return bytes;
}
