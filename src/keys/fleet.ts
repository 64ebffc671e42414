// `hive upload-keys` (and goal `keys`) as data: per node, read its keys, upload them all, remove stale ones.
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import type { ByteRunner } from "../nix/runner.js";
import type { NodeResult } from "../report/results.js";
import { prepareKeys, wipePreparedKeys } from "./sources.js";
import { type KeyHost, type KeyScriptOptions, type RemovedKey, type UploadedKey, removeStaleKeys, uploadKeys } from "./upload.js";
import { errorLog as nodeErrorLog, summarizeError as describeNodeError } from "../errors.js";

export type KeyStep = "read" | "upload" | "remove-stale";

/** Progress of a key upload run; the CLI renders these, the core never prints. */
export type KeyRunEvent =
  | { kind: "key-step"; node: string; step: KeyStep }
  | { kind: "key-node-done"; node: string; result: NodeResult; message?: string; durationMs: number };

export interface KeyNodeOutcome {
  name: string;
  result: NodeResult;
  keys: UploadedKey[];
  /** Files of keys no longer in hive.ts, removed. */
  removed: RemovedKey[];
  durationMs: number;
  error: { code: string; message: string } | null;
  /** The last lines worth showing, for failures (a key command's stderr, the node script's). */
  log: string[];
}

export interface KeyRunReport {
  nodes: KeyNodeOutcome[];
  interrupted: boolean;
}

export interface KeyRunContext {
  hostFor: (node: Node) => KeyHost;
  runner: ByteRunner;
  /** Where key commands run: hive.ts's directory. */
  cwd: string;
  /** Nodes worked on at once. */
  parallel: number;
  /** True once the operator asked to stop: start nothing new. */
  interrupted: () => boolean;
  emit?: (event: KeyRunEvent) => void;
  now?: () => number;
  /** For tests: where the nodes' record of placed keys lives. */
  scriptOptions?: KeyScriptOptions;
}

/**
 * Per node, independently: read every key source (a failure fails the node before it is
 * contacted), upload all keys, then remove the files of keys hive.ts no longer has. A node whose
 * keys were all in place already, with nothing stale, is `unchanged`.
 */
export async function uploadKeysToNodes(nodes: readonly Node[], context: KeyRunContext): Promise<KeyRunReport> {
  const now = context.now ?? Date.now;
  const emit = context.emit ?? (() => {});
  const limit = pLimit(context.parallel);
  const outcomes = await Promise.all(
    nodes.map((node) =>
      limit(async (): Promise<KeyNodeOutcome> => {
        const started = now();
        const outcome: KeyNodeOutcome = { name: node.name, result: "skipped", keys: [], removed: [], durationMs: 0, error: null, log: [] };
        if (context.interrupted()) return outcome;
        try {
          emit({ kind: "key-step", node: node.name, step: "read" });
          const prepared = await prepareKeys(node, context.runner, { cwd: context.cwd });
          try {
            const host = context.hostFor(node);
            emit({ kind: "key-step", node: node.name, step: "upload" });
            outcome.keys = await uploadKeys(host, prepared, "all", context.scriptOptions);
            emit({ kind: "key-step", node: node.name, step: "remove-stale" });
            outcome.removed = await removeStaleKeys(host, node, context.scriptOptions);
          } finally {
            wipePreparedKeys(prepared);
          }
          const changed = outcome.keys.some((k) => k.outcome === "written") || outcome.removed.length > 0;
          outcome.result = changed ? "succeeded" : "unchanged";
        } catch (error) {
          outcome.result = "failed";
          outcome.error = describeNodeError(error);
          outcome.log = nodeErrorLog(error);
        }
        outcome.durationMs = now() - started;
        emit({ kind: "key-node-done", node: node.name, result: outcome.result, ...(outcome.error ? { message: outcome.error.message } : {}), durationMs: outcome.durationMs });
        return outcome;
      }),
    ),
  );
  return { nodes: outcomes, interrupted: context.interrupted() };
}

