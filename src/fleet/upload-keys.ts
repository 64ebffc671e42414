// `hive upload-keys` (and goal `keys`) as data: per node, read its keys, upload them all, remove stale ones.
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import { type ErrorSummary, errorLog, summarizeError } from "../errors.js";
import type { NodeResult } from "../events.js";
import { type KeyScriptOptions, type RemovedKey, type UploadedKey, prepareKeys, removeStaleKeys, uploadKeys, wipePreparedKeys } from "../keys/index.js";
import type { Host, NodeLock } from "../host/host.js";
import type { RunContext } from "../run-context.js";

export interface KeyNodeOutcome {
  name: string;
  result: NodeResult;
  keys: UploadedKey[];
  /** Files of keys no longer in hive.ts, removed. */
  removed: RemovedKey[];
  durationMs: number;
  error: ErrorSummary | null;
  /** The last lines worth showing, for failures (a key command's stderr, the node script's). */
  log: string[];
}

export interface KeyRunReport {
  nodes: KeyNodeOutcome[];
  interrupted: boolean;
}

export interface KeyRunOptions {
  /** Nodes worked on at once. */
  parallel: number;
  forceUnlock: boolean;
  /** For tests: where the nodes' record of placed keys lives. */
  scriptOptions?: KeyScriptOptions;
}

/**
 * Per node, independently: read every key source (a failure fails the node before it is
 * contacted), upload all keys, then remove the files of keys hive.ts no longer has. A node whose
 * keys were all in place already, with nothing stale, is `unchanged`.
 */
export async function uploadKeysToNodes(nodes: readonly Node[], options: KeyRunOptions, context: RunContext): Promise<KeyRunReport> {
  const now = context.now;
  const emit = context.reporter.emit.bind(context.reporter);
  const limit = pLimit(options.parallel);
  const outcomes = await Promise.all(
    nodes.map((node) =>
      limit(async (): Promise<KeyNodeOutcome> => {
        const started = now();
        const outcome: KeyNodeOutcome = { name: node.name, result: "skipped", keys: [], removed: [], durationMs: 0, error: null, log: [] };
        if (context.signal.aborted) {
          outcome.error = { code: "E_INTERRUPTED", message: "not started: interrupted" };
          emit({ code: "node.done", node: node.name, result: "skipped", error: outcome.error, durationMs: 0 });
          return outcome;
        }
        let host: Host | undefined;
        let lock: NodeLock | undefined;
        try {
          const prepared = await prepareKeys(node, context.runner, { cwd: context.hive.dir, env: context.env });
          try {
            host = context.hostFor(node);
            emit({ code: "node.phase", node: node.name, phase: "connect" });
            // The node lock: keys are not written while another run deploys the node.
            lock = await host.lock({ holder: context.deployer.name, pid: context.deployer.pid, startedAt: context.deployer.startedAt }, { force: options.forceUnlock, withKeysManifest: true });
            emit({ code: "node.phase", node: node.name, phase: "keys" });
            outcome.keys = await uploadKeys(host, prepared, "all", options.scriptOptions);
            emit({ code: "node.phase", node: node.name, phase: "remove-keys" });
            outcome.removed = await removeStaleKeys(host, node, { ...options.scriptOptions, ...(options.scriptOptions?.manifestDir === undefined ? { manifestListing: lock.keysManifest } : {}) });
          } finally {
            wipePreparedKeys(prepared);
          }
          const changed = outcome.keys.some((k) => k.outcome === "written") || outcome.removed.length > 0;
          outcome.result = changed ? "succeeded" : "unchanged";
        } catch (error) {
          outcome.result = "failed";
          outcome.error = summarizeError(error);
          outcome.log = errorLog(error);
        } finally {
          await lock?.release();
          host?.close();
        }
        outcome.durationMs = now() - started;
        emit({ code: "node.done", node: node.name, result: outcome.result, error: outcome.error, durationMs: outcome.durationMs });
        return outcome;
      }),
    ),
  );
  return { nodes: outcomes, interrupted: context.signal.aborted };
}

