// Plans a deployment, purely: which nodes, in which batches and order, with which goal and
// settings. `hive apply --plan --json` prints it; executing it is src/deploy's job.
import type { Hive, Node } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import type { EvalSettings } from "../nix/eval.js";
import { selectNodes } from "../selection/selector.js";
import { type Goal, goalActivates, goalUploadsKeys } from "./goal.js";
import { requireSelectionUnlessAllowed } from "./guard.js";

/** What the operator asked for (flags; hive.ts supplies the rest). */
export interface ApplyOptions {
  goal: Goal;
  on?: string;
  /** Nodes pushed and activated at once; default meta.parallel. */
  parallel?: number;
  /** Evaluator processes at once; default from the CPU count and the memory budget. */
  evalWorkers?: number;
  /** Bytes all evaluators together may use; default half of the memory available now. */
  evalMemory?: number;
  /** false: evaluate even when the evaluation cache has the answer (--no-eval-cache). */
  evalCache?: boolean;
  showTrace?: boolean;
  /** Build every selected node on itself, whatever hive.ts says. */
  buildOnTarget?: boolean;
  keepResult?: boolean;
  substitute?: boolean;
  reactivate?: boolean;
  maxJobs?: number;
  /** false: no automatic rollback on any node (--no-rollback). */
  rollback?: boolean;
  /** false: no dead-man confirmation on any node (--no-magic-rollback). */
  magicRollback?: boolean;
  /** A count, or a percentage of the selection such as "25%". */
  batchSize?: number | string;
  maxFailures?: number;
  forceUnlock?: boolean;
  /** false: leave keys alone (--no-keys). */
  keys?: boolean;
}

/** What planning needs to know of this machine (kept out of the plan's inputs otherwise: planning stays pure). */
export interface MachineInfo {
  cpus: number;
  /** MemAvailable, in bytes. */
  memAvailableBytes: number;
}

export interface PlannedNode {
  name: string;
  node: Node;
  buildOnTarget: boolean;
  rollback: boolean;
  /**
   * Seconds the node waits for hive's decision after activation, 0 when magic rollback is off for
   * it: confirmTimeout plus the longest health check's deadline, since hive confirms only once
   * the checks passed.
   */
  decisionWindow: number;
  healthChecks: string[];
}

/** A deployment as data: what will be done to which nodes, before anything is done. */
export interface ApplyPlan {
  goal: Goal;
  flake: string;
  /** In deployment order (rollout order first). */
  nodes: PlannedNode[];
  /** Node names per batch, in deployment order; one batch when not rolling. */
  batches: string[][];
  parallel: number;
  eval: EvalSettings;
  keepResult: boolean;
  substitute: boolean;
  reactivate: boolean;
  maxJobs: number | undefined;
  machinesFile: string | undefined;
  /** Failed nodes tolerated before no new batch starts; null: unlimited. */
  maxFailures: number | null;
  forceUnlock: boolean;
  /** Upload keys around activation (goals switch, boot, test), and remove keys hive.ts dropped. */
  uploadKeys: boolean;
}

const GIB = 1024 ** 3;
/** What one evaluator is assumed to need at least (Colmena sizes 512 MB per node; real NixOS nodes take 0.3-1.7 GB). */
export const EVAL_WORKER_MIN_BYTES = GIB;

export function planApply(hive: Hive, options: ApplyOptions, machine: MachineInfo): ApplyPlan {
  if (options.goal !== "build") requireSelectionUnlessAllowed(hive, options.on, `hive apply ${options.goal}`);
  const nodes = orderForRollout(selectNodes(hive.nodes, options.on), hive.meta.rollout?.order ?? []);
  const magicGoal = options.goal === "switch" || options.goal === "test";
  const batchSize = resolveBatchSize(options.batchSize ?? hive.meta.rollout?.batchSize, nodes.length) ?? Math.max(1, nodes.length);
  const names = nodes.map((n) => n.name);
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += batchSize) batches.push(names.slice(i, i + batchSize));
  const rolling = options.batchSize !== undefined || hive.meta.rollout?.batchSize !== undefined;
  return {
    goal: options.goal,
    flake: hive.meta.flake,
    nodes: nodes.map((node) => {
      const checks = Object.values(node.healthChecks);
      const checksWindow = goalActivates(options.goal) && checks.length > 0 ? Math.max(...checks.map((c) => c.deadline)) : 0;
      return {
        name: node.name,
        node,
        buildOnTarget: options.buildOnTarget === true || node.buildOnTarget,
        rollback: options.rollback !== false && node.rollback,
        decisionWindow: magicGoal && options.magicRollback !== false && node.magicRollback ? node.confirmTimeout + checksWindow : 0,
        healthChecks: Object.keys(node.healthChecks),
      };
    }),
    batches,
    maxFailures: options.maxFailures ?? hive.meta.rollout?.maxFailures ?? (rolling ? 0 : null),
    forceUnlock: options.forceUnlock === true,
    uploadKeys: options.keys !== false && goalUploadsKeys(options.goal),
    parallel: positive(options.parallel, "--parallel") ?? hive.meta.parallel,
    eval: planEvaluation(options, machine, nodes.length),
    keepResult: options.keepResult ?? false,
    substitute: options.substitute ?? true,
    reactivate: options.reactivate ?? false,
    maxJobs: positive(options.maxJobs, "--max-jobs"),
    machinesFile: hive.meta.machinesFile,
  };
}

/**
 * Evaluators: as many as there are CPUs, nodes, and budget for at least EVAL_WORKER_MIN_BYTES
 * each. The budget defaults to half of the memory available now, so a deploy leaves the machine
 * room for its builds and everything else it runs.
 */
export function planEvaluation(
  options: Pick<ApplyOptions, "evalWorkers" | "evalMemory" | "evalCache" | "showTrace">,
  machine: MachineInfo,
  nodeCount: number,
): EvalSettings {
  const memoryBytes = positive(options.evalMemory, "--eval-memory") ?? Math.max(EVAL_WORKER_MIN_BYTES, Math.floor(machine.memAvailableBytes / 2));
  const byMemory = Math.max(1, Math.floor(memoryBytes / EVAL_WORKER_MIN_BYTES));
  const workers = positive(options.evalWorkers, "--eval-workers") ?? Math.max(1, Math.min(machine.cpus, byMemory, Math.max(1, nodeCount)));
  return { workers, memoryBytes, cache: options.evalCache !== false, showTrace: options.showTrace ?? false };
}

/** The plan as JSON (`hive apply --plan --json`): names and settings, no internals. */
export function describePlan(plan: ApplyPlan): unknown {
  return {
    goal: plan.goal,
    flake: plan.flake,
    batches: plan.batches,
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      targetHost: n.node.targetHost,
      buildOnTarget: n.buildOnTarget,
      rollback: n.rollback,
      decisionWindow: n.decisionWindow,
      healthChecks: n.healthChecks,
      keys: plan.uploadKeys ? Object.keys(n.node.keys) : [],
    })),
    parallel: plan.parallel,
    maxFailures: plan.maxFailures,
    eval: plan.eval,
    substitute: plan.substitute,
    reactivate: plan.reactivate,
    forceUnlock: plan.forceUnlock,
  };
}

function positive(value: number | undefined, what: string): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new UsageError(`${what} must be a whole number of at least 1, got ${value}`);
  return value;
}

/** Nodes carrying the rollout's tags go first, tag by tag; the rest keep hive.ts order. */
export function orderForRollout<T extends { tags: readonly string[] }>(nodes: readonly T[], order: readonly string[]): T[] {
  const rank = (node: T) => {
    const i = order.findIndex((tag) => node.tags.includes(tag));
    return i === -1 ? order.length : i;
  };
  return nodes.map((node, index) => ({ node, index })).sort((a, b) => rank(a.node) - rank(b.node) || a.index - b.index).map((e) => e.node);
}

/** `3` -> 3; `"25%"` of 10 nodes -> 3 (rounded up, at least 1); undefined stays undefined. */
export function resolveBatchSize(size: number | string | undefined, total: number): number | undefined {
  if (size === undefined) return undefined;
  if (typeof size === "number") {
    if (!Number.isInteger(size) || size < 1) throw new UsageError(`--batch-size must be a whole number of at least 1 or a percentage, got ${size}`);
    return size;
  }
  const percent = /^(\d+)%$/.exec(size);
  if (percent) {
    const p = Number(percent[1]);
    if (p < 1 || p > 100) throw new UsageError(`--batch-size percentage must be 1-100%, got ${size}`);
    return Math.max(1, Math.ceil((total * p) / 100));
  }
  if (/^\d+$/.test(size)) return resolveBatchSize(Number(size), total);
  throw new UsageError(`--batch-size must be a count such as 5 or a percentage such as "25%", got ${JSON.stringify(size)}`);
}
