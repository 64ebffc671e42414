// Builds the one run context every command's core function gets: the process runner, a Host per
// node over one SSH pool, the reporter the output flags ask for, one two-stage Ctrl-C (and
// SIGTERM), the clock and the deployer's identity.
import { setMaxListeners } from "node:events";
import { hostname, userInfo } from "node:os";
import type { Hive, Node } from "../config/normalize.js";
import { loadSshConfig } from "../config/ssh-config.js";
import type { HiveEvent, Reporter } from "../events.js";
import type { Host } from "../host/host.js";
import { SshHost } from "../host/ssh-host.js";
import { execaRunner } from "../nix/runner.js";
import { createEventStream, createLiveRenderer, createPlainRenderer } from "../report/render-progress.js";
import type { RunContext } from "../run-context.js";
import { SshPool } from "../ssh/pool.js";
import { resolveSshTarget } from "../ssh/target.js";
import type { CommandContext } from "./context.js";
import { hiveCacheDir } from "../util/private-dir.js";
import { onInterrupt } from "./interrupts.js";
import { readVersion } from "./version.js";

export interface RuntimeOptions {
  acceptNewHostKeys?: boolean;
  /** --events: newline-delimited JSON events on stdout instead of progress on stderr. */
  events?: boolean;
  /** --json: no live view (progress lines still go to stderr). */
  json?: boolean;
  /** Nodes the run works on, for aligned progress. */
  nodeNames: readonly string[];
  /** A reporter of the command's own (exec's streamed output); progress flags then do not apply. */
  reporter?: Reporter;
  /** What the first Ctrl-C does: deploys start nothing new and wait; exec and check stop their commands. */
  interrupt: "stop-new-work" | "stop-commands";
}

export interface Runtime {
  context: RunContext;
  /** Resolves at the second Ctrl-C (or SIGTERM): stop waiting. */
  stopped: Promise<"stopped">;
  /** Ends the run: renderers stopped, signal handlers removed, connections closed (not awaited after a second Ctrl-C). */
  close(): Promise<void>;
}

export function createRuntime(cli: CommandContext, hive: Hive, options: RuntimeOptions): Runtime {
  const { terminal } = cli;
  const verbose = cli.globals.verbose > 0;
  // A terminal that reports no width (e.g. a pty nobody sized) gets plain lines: live redraws need one.
  const live =
    options.reporter === undefined && !options.events && !options.json && process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0 && process.env["CI"] === undefined;
  const liveRenderer = live ? createLiveRenderer(process.stderr, { color: terminal.errColor, verbose, nodeNames: options.nodeNames }) : undefined;
  const reporter: Reporter =
    options.reporter ??
    (options.events ? createEventStream(terminal.out) : (liveRenderer ?? createPlainRenderer(terminal.err, { color: terminal.errColor, verbose, nodeNames: options.nodeNames })));

  const abort = new AbortController();
  // Every running step on every node listens for the abort.
  setMaxListeners(0, abort.signal);
  let interrupts = 0;
  let stopWaiting: (() => void) | undefined;
  const stopped = new Promise<"stopped">((resolve) => (stopWaiting = () => resolve("stopped")));
  const stopListening = onInterrupt((count) => {
    interrupts = count;
    reporter.emit({ code: "run.interrupt", count, effect: options.interrupt } satisfies HiveEvent);
    if (count === 1) abort.abort();
    else stopWaiting?.();
  });

  const pool = new SshPool({ acceptNewHostKeys: options.acceptNewHostKeys === true });
  const sshConfig = loadSshConfig();
  const hosts = new Map<string, Host>();
  const hostFor = (node: Node): Host => {
    let host = hosts.get(node.name);
    if (host === undefined) hosts.set(node.name, (host = new SshHost(node, resolveSshTarget(node, sshConfig), pool)));
    return host;
  };
  const startedAt = Date.now();
  const context: RunContext = {
    hive,
    runner: execaRunner,
    hostFor,
    reporter,
    signal: abort.signal,
    now: Date.now,
    deployer: { name: `${deployingUser()}@${hostname()}`, pid: process.pid, startedAt: new Date(startedAt).toISOString() },
    hiveVersion: readVersion(),
    cacheDir: hiveCacheDir(),
  };
  return {
    context,
    stopped,
    close: async () => {
      liveRenderer?.stop();
      stopListening();
      // After a second Ctrl-C nothing is waited for: a connection still opening must not hold the exit.
      if (interrupts >= 2) void pool.closeAll();
      else await pool.closeAll();
    },
  };
}

/** Who deploys: the local user, for deployment records and lock owners. */
function deployingUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env["USER"] ?? "unknown";
  }
}
