// Evaluates nodes' systems in parallel evaluator processes within a memory budget, streaming each
// node's result as soon as it is known; answers from the evaluation cache start no process at all.
//
// Work is dealt out by stride (node i to worker i mod W), so the first nodes to deploy are
// evaluated first and at once. An evaluator that grows past its share of the budget is stopped
// after the node it just finished, and a new one takes its remaining nodes; an error kills only the
// process it happened in: its node fails with Nix's own message, a new process takes the rest.
// So a node costs at most one evaluation, whatever the error.
import { readFileSync } from "node:fs";
import { type ErrorSummary, FlakeError } from "../errors.js";
import { parseAttrPath } from "./attr-path.js";
import { type InjectedData, encodeFleet, injectedKey } from "./eval-data.js";
import { configurationPath } from "./hive-module.js";
import type { EvalCache } from "./eval-cache.js";
import { type WorkerRequest, runEvalWorker } from "./eval-worker.js";
import type { ResolvedFlake } from "./flake-ref.js";
import type { ProcessRunner } from "./runner.js";

export interface EvalRequest {
  node: string;
  /** Attribute path of the system in the flake. */
  attribute: string;
}

/** How nodes are evaluated: how many evaluators at once, within which memory, with or without the cache. */
export interface EvalSettings {
  workers: number;
  /** Budget of all evaluator processes together, in bytes. */
  memoryBytes: number;
  cache: boolean;
  showTrace: boolean;
}

/** One node's evaluation, as the rest of a deploy receives it. */
export type EvaluatedNode =
  | { node: string; ok: true; drvPath: string; outPath: string; cached: boolean }
  | { node: string; ok: false; error: ErrorSummary; log: string[] };

export interface EvaluateNodesOptions {
  runner: ProcessRunner;
  flake: ResolvedFlake;
  settings: EvalSettings;
  /** Null: no cache (--no-eval-cache, or a source that can not be pinned). */
  cache: EvalCache | null;
  env?: Record<string, string | undefined>;
  signal: AbortSignal;
  /** Each node's evaluation as soon as it is known. */
  onEvaluated: (outcome: EvaluatedNode) => void;
  /** Evaluation warnings, once per message with every node that printed it (at the end). */
  onWarning?: (nodes: string[], message: string) => void;
  /** Each evaluator process started, with the nodes it was given. */
  onProcess?: (nodes: string[]) => void;
  /**
   * A node whose configuration the flake does not have: the run's error (deploys: exit 2 before any
   * node is touched), or that node's own (status: the node is unknown, the others are judged).
   */
  missing?: "run-error" | "node-error";
  /** `config.hive` for every node whose system is a configuration's toplevel (fleet/node-data.ts). */
  inject?: InjectedData;
}

export interface EvalStats {
  cached: number;
  evaluated: number;
  processes: number;
  /** Highest sum of the resident memory of the evaluators running at once (sampled; Linux only). */
  peakRssBytes: number | null;
}

interface Job {
  output: string;
  requests: WorkerRequest[];
}

/** Evaluate `requests` (given in deployment order); throws FlakeError when the flake itself is unusable. */
export async function evaluateNodes(requests: readonly EvalRequest[], options: EvaluateNodesOptions): Promise<EvalStats> {
  const stats: EvalStats = { cached: 0, evaluated: 0, processes: 0, peakRssBytes: null };
  const cache = options.flake.identity === null ? null : options.cache;
  const fleet = options.inject === undefined ? null : encodeFleet(options.inject);
  const keys = new Map<string, string>();
  const warnings = new Map<string, Set<string>>();
  const toEvaluate: EvalRequest[] = [];
  for (const request of requests) {
    const injected = fleet === null ? "" : injectedKey(fleet, options.inject!.keys.get(request.node));
    const key = cache?.key({ flake: options.flake.identity!, node: request.node, attribute: request.attribute, injected, showTrace: options.settings.showTrace });
    const hit = key === undefined ? null : cache!.get(key);
    if (key !== undefined) keys.set(request.node, key);
    if (hit !== null) {
      stats.cached += 1;
      options.onEvaluated({ node: request.node, ok: true, ...hit, cached: true });
    } else toEvaluate.push(request);
  }
  if (toEvaluate.length === 0) return stats;

  const queue = dealJobs(toEvaluate, options.settings.workers, options.inject);
  const perWorker = Math.floor(options.settings.memoryBytes / options.settings.workers);
  const env = evaluatorEnv(options.env, perWorker);
  const running = new Map<number, number>(); // pid -> last RSS
  const sampler = setInterval(() => {
    let sum = 0;
    for (const pid of running.keys()) sum += readRss(pid) ?? 0;
    if (sum > 0) stats.peakRssBytes = Math.max(stats.peakRssBytes ?? 0, sum);
  }, 100);
  sampler.unref();
  let flakeFailure: FlakeError | null = null;

  const runJob = async (job: Job): Promise<void> => {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    let pid: number | undefined;
    let previousRss = 0;
    let largestStep = 0;
    stats.processes += 1;
    options.onProcess?.(job.requests.map((r) => r.node));
    const end = await runEvalWorker(job.requests, {
      runner: options.runner,
      fleet,
      flakeRef: options.flake.ref,
      output: job.output,
      showTrace: options.settings.showTrace,
      sourceRoot: options.flake.sourceRoot,
      env,
      signal: stop.signal,
      onSpawn: (p) => {
        pid = p;
        running.set(p, 0);
      },
      onEvent: (event) => {
        switch (event.kind) {
          case "evaluated": {
            // Once the flake failed as a whole, nothing it evaluated goes on to be deployed.
            if (flakeFailure !== null) break;
            stats.evaluated += 1;
            const key = keys.get(event.node);
            if (key !== undefined) cache!.put(key, { drvPath: event.drvPath, outPath: event.outPath });
            options.onEvaluated({ node: event.node, ok: true, drvPath: event.drvPath, outPath: event.outPath, cached: false });
            // Past its share of the budget (or about to be, by the largest step seen): stop after this node.
            // The first node's growth includes the process's own start (flake, lib): it bounds a step
            // only until a second node shows what one node really adds.
            const rss = pid === undefined ? null : readRss(pid);
            if (rss !== null) {
              if (previousRss > 0) largestStep = Math.max(largestStep, rss - previousRss);
              const step = previousRss > 0 ? largestStep : rss;
              previousRss = rss;
              if (rss + step > perWorker) stop.abort();
            }
            break;
          }
          case "failed":
            options.onEvaluated({ node: event.node, ok: false, error: event.error, log: event.log });
            break;
          case "warning": {
            const nodes = warnings.get(event.message) ?? new Set();
            if (event.node !== null) nodes.add(event.node);
            warnings.set(event.message, nodes);
            break;
          }
          case "missing": {
            const has = event.available.length > 0 ? ` (it has ${event.available.slice(0, 20).join(", ")}${event.available.length > 20 ? ", ..." : ""})` : "";
            const hint = "name the node's configuration in the flake after the node, or set the node's `system` attribute path in hive.ts";
            if (options.missing === "node-error") {
              event.nodes.forEach((node, i) => options.onEvaluated({ node, ok: false, error: { code: "E_FLAKE", message: `the flake has no ${job.output}.${event.missing[i]}${has}` }, log: [hint] }));
            } else {
              flakeFailure ??= new FlakeError(`the flake ${options.flake.ref} has no ${job.output}.${event.missing.join(`, ${job.output}.`)}${has}`, hint);
              stop.abort();
            }
            break;
          }
          case "started":
            break;
        }
      },
    });
    if (pid !== undefined) running.delete(pid);
    options.signal.removeEventListener("abort", onAbort);
    if (end.failure !== null) flakeFailure ??= flakeErrorOf(end.failure, options.flake, end.log);
    // What the process did not get to goes to a new one (unless the run stops).
    if (end.remaining.length > 0 && flakeFailure === null && !options.signal.aborted) queue.push({ output: job.output, requests: end.remaining });
  };

  try {
    await runPool(queue, options.settings.workers, runJob, () => flakeFailure !== null || options.signal.aborted);
  } finally {
    clearInterval(sampler);
  }
  if (flakeFailure !== null) throw flakeFailure;
  for (const [message, nodes] of warnings) options.onWarning?.([...nodes], message);
  return stats;
}

/** Up to `workers` jobs at once from a queue that grows as jobs hand back their remainders. */
async function runPool(queue: Job[], workers: number, run: (job: Job) => Promise<void>, stopped: () => boolean): Promise<void> {
  const active = new Set<Promise<void>>();
  for (;;) {
    while (active.size < workers && queue.length > 0 && !stopped()) {
      const promise: Promise<void> = run(queue.shift()!).finally(() => active.delete(promise));
      active.add(promise);
    }
    if (active.size === 0) return;
    await Promise.race(active);
  }
}

/** What one process's requests may take of its expression: one argument holds at most 128 KiB on Linux. */
const JOB_REQUEST_BYTES = 48 * 1024;

/**
 * Jobs per output (nixosConfigurations, darwinConfigurations, ...), node i to lane i mod workers;
 * a lane whose requests outgrow JOB_REQUEST_BYTES is cut into several jobs, run one after another.
 */
function dealJobs(requests: readonly EvalRequest[], workers: number, inject: InjectedData | undefined): Job[] {
  const byOutput = new Map<string, WorkerRequest[]>();
  for (const request of requests) {
    const [output, ...path] = parseAttrPath(request.attribute);
    if (path.length === 0) throw new FlakeError(`node ${request.node}: its system attribute ${request.attribute} names a whole flake output`, "set `system` to the path of the node's toplevel, e.g. nixosConfigurations.<name>.config.system.build.toplevel");
    const conf = inject === undefined ? null : configurationPath(request.attribute);
    const worker: WorkerRequest = { node: request.node, path, attribute: request.attribute, ...(conf === null ? {} : { conf: conf.slice(1), keys: inject!.keys.get(request.node) ?? {} }) };
    byOutput.set(output!, [...(byOutput.get(output!) ?? []), worker]);
  }
  // Per lane its jobs in order; then round by round (every lane's first job, then every second one...).
  const laneJobs: Job[][] = [];
  for (const [output, list] of byOutput) {
    const lanes = Math.max(1, Math.min(workers, list.length));
    for (let lane = 0; lane < lanes; lane++) {
      const jobs: Job[] = [];
      let current: WorkerRequest[] = [];
      let bytes = 0;
      for (const request of list.filter((_, i) => i % lanes === lane)) {
        const size = JSON.stringify(request).length;
        if (current.length > 0 && bytes + size > JOB_REQUEST_BYTES) {
          jobs.push({ output, requests: current });
          current = [];
          bytes = 0;
        }
        current.push(request);
        bytes += size;
      }
      if (current.length > 0) jobs.push({ output, requests: current });
      laneJobs.push(jobs);
    }
  }
  const rounds = Math.max(0, ...laneJobs.map((j) => j.length));
  return Array.from({ length: rounds }, (_, round) => laneJobs.flatMap((jobs) => (jobs[round] ? [jobs[round]!] : []))).flat();
}

/** The flake-level failure as the run's error, with the fix where one is known. */
function flakeErrorOf(message: string, flake: ResolvedFlake, log: readonly string[]): FlakeError {
  if (/requires lock file changes/.test(message)) {
    const dir = flake.kind === "reference" ? "" : ` in ${flake.sourceRoot}`;
    return new FlakeError(`the flake's flake.lock does not match the inputs flake.nix declares (${flake.ref})`, `run \`nix flake lock\`${dir}, commit flake.lock, and deploy again`, log);
  }
  if (/does not provide attribute/.test(message)) return new FlakeError(message, "check the flake's outputs (`nix flake show`) against the nodes' `system` attributes", log);
  return new FlakeError(`the flake could not be evaluated: ${message}`, "fix the flake (`nix flake check` shows the same error), then deploy again", log);
}

/**
 * The evaluators' environment. Nix's garbage collector (Boehm's) starts with a heap of at most
 * 384 MiB and collects each time it fills; a NixOS node retains most of what it allocates, so
 * every collection marks all the nodes evaluated before it, and collecting takes about a third of
 * a multi-node evaluation's CPU. An evaluator is stopped and replaced once it nears its share of the
 * budget anyway (above), so its heap may start at that share: it then rarely collects at all.
 * An unused heap is address space, not memory. A GC_INITIAL_HEAP_SIZE of the caller's is kept.
 */
export function evaluatorEnv(env: Record<string, string | undefined> | undefined, perWorkerBytes: number): Record<string, string | undefined> {
  if ((env?.GC_INITIAL_HEAP_SIZE ?? process.env.GC_INITIAL_HEAP_SIZE) !== undefined) return { ...env };
  return { ...env, GC_INITIAL_HEAP_SIZE: String(Math.max(MIN_HEAP_BYTES, perWorkerBytes)) };
}

/** Nix's own default heap on a machine with 1.5 GiB or more (a quarter of memory, at most 384 MiB). */
const MIN_HEAP_BYTES = 384 * 1024 * 1024;

function readRss(pid: number): number | null {
  try {
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}
