// What every command's core function gets from the CLI: the side effects, in one place, so tests
// can replace them (process runner, hosts, reporter, abort signal, clock, deployer identity).
import type { Hive, Node } from "./config/normalize.js";
import type { Reporter } from "./events.js";
import type { Host } from "./host/host.js";
import type { ByteRunner, ProcessRunner } from "./nix/runner.js";

/** Who deploys, for deployment records and lock owners. */
export interface Deployer {
  /** user@host of the deployer. */
  name: string;
  pid: number;
  /** When this run started, ISO 8601. */
  startedAt: string;
}

export interface RunContext {
  hive: Hive;
  runner: ProcessRunner & ByteRunner;
  /** The node's Host; the same one for every call with the same node. */
  hostFor(node: Node): Host;
  reporter: Reporter;
  /** Aborted by the first Ctrl-C or SIGTERM: start nothing new (what running steps do is theirs to say). */
  signal: AbortSignal;
  now(): number;
  deployer: Deployer;
  hiveVersion: string;
  /** Where hive keeps what it may reuse (the evaluation cache): private to the user. */
  cacheDir: string;
  env?: Record<string, string | undefined>;
}
