// One evaluator process: `nix eval` of the flake's output (e.g. nixosConfigurations) with a
// function that evaluates the given nodes one after another and traces each result as soon as it
// is known, so results stream out of a single process and a failure names its node.
import type { ErrorSummary } from "../errors.js";
import { nixString } from "./attr-path.js";
import { DECODE_FLEET } from "./eval-data.js";
import { hiveSystemFunction } from "./hive-module.js";
import { nixArgs } from "./nix-cli.js";
import { summarizeNixError, warningOf } from "./nix-errors.js";
import type { ProcessRunner } from "./runner.js";

export interface WorkerRequest {
  node: string;
  /** The attribute path below the group's output, e.g. ["web-1", "config", "system", "build", "toplevel"]. */
  path: string[];
  /** The whole attribute path, for messages. */
  attribute: string;
  /** With `config.hive`: the path of the node's configuration below the output, and the node's own keys. */
  conf?: string[];
  keys?: unknown;
}

export type WorkerEvent =
  | { kind: "started"; node: string }
  | { kind: "evaluated"; node: string; drvPath: string; outPath: string }
  | { kind: "failed"; node: string; error: ErrorSummary; log: string[] }
  | { kind: "warning"; node: string | null; message: string }
  /** Nodes whose output name the flake does not have (the others are evaluated after this). */
  | { kind: "missing"; nodes: string[]; missing: string[]; available: string[] };

export interface WorkerEnd {
  /** Nodes given to the process that it neither evaluated nor failed (it was stopped, or died). */
  remaining: WorkerRequest[];
  /** Why the process ended before its last node, when no single node is to blame (Nix's message). */
  failure: string | null;
  /** The process's full stderr outside any node (for a flake-level failure's log). */
  log: string[];
}

export interface WorkerOptions {
  runner: ProcessRunner;
  /** eval-data.ts's encoding of the fleet, when hive adds `config.hive`. */
  fleet: string | null;
  /** The flake reference and the output the group lives under. */
  flakeRef: string;
  output: string;
  showTrace: boolean;
  sourceRoot: string | null;
  env?: Record<string, string | undefined>;
  signal: AbortSignal;
  onEvent: (event: WorkerEvent) => void;
  onSpawn?: (pid: number) => void;
}

const MARK = "trace: hive:";

/**
 * The function given to `nix eval --apply`; its value is null, its results are the traces. With
 * `fleet` (eval-data.ts's encoding), a request with `conf` is built with hive's module added to its
 * configuration and `config.hive` set from the fleet's and its own data.
 */
export function workerExpression(requests: readonly WorkerRequest[], fleet: string | null = null): string {
  const json = JSON.stringify(requests.map((r) => ({ name: r.node, path: r.path, attribute: r.attribute, ...(r.conf ? { conf: r.conf, keys: r.keys ?? {} } : {}) })));
  const inject = fleet !== null && requests.some((r) => r.conf !== undefined);
  return `root:
let
  requests = builtins.fromJSON ${nixString(json)};${
    inject
      ? `
  fleetRaw = builtins.fromJSON ${nixString(fleet)};
  fleet = ${DECODE_FLEET};
  withHive = ${hiveSystemFunction()};
  dataOf = r: fleet.nodes.\${r.name} // { nodes = fleet.nodes; inventory = fleet.inventory; keys = r.keys; };`
      : ""
  }
  has = r: builtins.hasAttr (builtins.head r.path) root;
  missing = builtins.filter (r: !(has r)) requests;
  walk = r: builtins.foldl' (v: k: v.\${k} or (throw "the flake has no attribute \${r.attribute}")) root;
  get = r: ${inject ? `if r ? conf then withHive (walk r r.conf) (dataOf r) r.attribute else ` : ""}walk r r.path;
  one = r: builtins.trace "hive:start \${r.name}" (
    let s = get r; in builtins.seq s.drvPath (builtins.trace ("hive:done " + builtins.toJSON { node = r.name; drv = s.drvPath; out = s.outPath; }) null));
  run = builtins.foldl' (acc: r: builtins.seq (one r) acc) null (builtins.filter has requests);
in
  if missing != [] then builtins.trace ("hive:missing " + builtins.toJSON { nodes = map (r: r.name) missing; missing = map (r: builtins.head r.path) missing; available = builtins.attrNames root; }) run
  else run`;
}

/** Run one evaluator over `requests`; resolves when it ends, however it ends. */
export async function runEvalWorker(requests: readonly WorkerRequest[], options: WorkerOptions): Promise<WorkerEnd> {
  const byNode = new Map(requests.map((r) => [r.node, r]));
  const settled = new Set<string>();
  let current: string | null = null;
  let nodeLog: string[] = [];
  const processLog: string[] = [];
  const args = nixArgs("eval", "--json", `${options.flakeRef}#${options.output}`, "--no-update-lock-file", "--apply", workerExpression(requests, options.fleet));
  if (options.showTrace) args.push("--show-trace");
  const result = await options.runner.run("nix", args, {
    env: options.env,
    signal: options.signal,
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    onStderrLine: (line) => {
      if (line.startsWith(MARK)) {
        const [kind, ...rest] = line.slice(MARK.length).split(" ");
        const payload = rest.join(" ");
        if (kind === "start") {
          current = payload;
          nodeLog = [];
          options.onEvent({ kind: "started", node: payload });
        } else if (kind === "done") {
          const done = JSON.parse(payload) as { node: string; drv: string; out: string };
          settled.add(done.node);
          current = null;
          options.onEvent({ kind: "evaluated", node: done.node, drvPath: done.drv, outPath: done.out });
        } else if (kind === "missing") {
          const { nodes, missing, available } = JSON.parse(payload) as { nodes: string[]; missing: string[]; available: string[] };
          for (const node of nodes) settled.add(node);
          options.onEvent({ kind: "missing", nodes, missing, available });
        }
        return;
      }
      (current === null ? processLog : nodeLog).push(line);
      const warning = warningOf(line);
      if (warning !== null) options.onEvent({ kind: "warning", node: current, message: warning });
    },
  });
  const remaining = () => requests.filter((r) => !settled.has(r.node));
  if (options.signal.aborted) return { remaining: remaining(), failure: null, log: processLog };
  if (result.exitCode === 0) return { remaining: remaining(), failure: null, log: processLog };
  const failedNode: string | null = current;
  if (failedNode !== null && byNode.has(failedNode)) {
    settled.add(failedNode);
    const log = [...nodeLog, ...processLog].filter((l) => l.trim() !== "");
    const died = result.exitCode >= 128 && !/^error/m.test(result.stderr);
    options.onEvent({
      kind: "failed",
      node: failedNode,
      error: died
        ? { code: "E_EVAL_WORKER", message: `the evaluator died while evaluating this node (exit ${result.exitCode}; out of memory?)` }
        : { code: "E_EVAL", message: summarizeNixError(nodeLog.join("\n"), options.sourceRoot) },
      log,
    });
    return { remaining: remaining(), failure: null, log: processLog };
  }
  // It failed before any node started: the flake itself (or Nix) is the problem.
  return { remaining: remaining(), failure: summarizeNixError(result.stderr, options.sourceRoot) || `nix eval exited ${result.exitCode}`, log: processLog };
}
