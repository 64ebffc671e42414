// Plans a deployment (pure) and carries it out: evaluate, build, push, activate, verify, per node.
import { hostname, userInfo } from "node:os";
import pLimit from "p-limit";
import type { Hive, Node } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import { type HeldLock, type LockOwner, acquireNodeLock } from "../activation/lock.js";
import { type ActivationRun, runSupervisedActivation } from "../activation/run-activation.js";
import type { SupervisorOptions } from "../activation/supervisor.js";
import { parseFailedUnits, parseNodeState, stateProbeScript } from "../activation/scripts.js";
import { type CheckOutcome, runHealthChecks } from "../health/checks.js";
import type { DeploymentRecord, Host } from "../host/host.js";
import { buildSystems } from "../nix/build.js";
import { type LocalClosures, queryClosures } from "../nix/closure.js";
import { DEFAULT_EVAL_NODE_LIMIT, evaluateSystems } from "../nix/eval.js";
import { readFlakeRevision } from "../nix/flake-revision.js";
import type { ByteRunner, ProcessRunner } from "../nix/runner.js";
import { type PreparedKeys, keyManifestScript, prepareKeys, removeStaleKeys, uploadKeys, wipePreparedKeys } from "../keys/index.js";
import type { Phase, Reporter } from "../report/events.js";
import { type NodeResult, isFailure } from "../report/results.js";
import { selectNodes } from "../selection/selector.js";
import { type Goal, goalActivates, goalSetsProfile, goalUploadsKeys } from "./goal.js";
import { errorLog as nodeErrorLog, summarizeError as describeNodeError } from "../errors.js";

export interface ApplyOptions {
  goal: Goal;
  on?: string;
  /** Nodes pushed and activated at once; default meta.parallel. */
  parallel?: number;
  evalNodeLimit?: number;
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

export interface PlannedNode {
  name: string;
  buildOnTarget: boolean;
  rollback: boolean;
  /** Seconds the node waits for hive's confirmation; 0 when magic rollback is off for it. */
  confirmTimeout: number;
  healthChecks: string[];
}

/** A deployment as data: what will be done to which nodes, before anything is done. */
export interface ApplyPlan {
  goal: Goal;
  flake: string;
  nodes: PlannedNode[];
  parallel: number;
  evalNodeLimit: number;
  showTrace: boolean;
  keepResult: boolean;
  substitute: boolean;
  reactivate: boolean;
  maxJobs: number | undefined;
  machinesFile: string | undefined;
  /** Node names per batch, in deployment order; one batch when not rolling. */
  batches: string[][];
  /** Failed nodes tolerated before no new batch starts; null: unlimited. */
  maxFailures: number | null;
  forceUnlock: boolean;
  /** Upload keys around activation (goals switch, boot, test), and remove keys hive.ts dropped. */
  uploadKeys: boolean;
}

export function planApply(hive: Hive, options: ApplyOptions): ApplyPlan {
  if (options.on === undefined && !hive.meta.allowApplyAll && options.goal !== "build") {
    throw new UsageError(
      "hive.ts sets meta.allowApplyAll = false: deploying to every node needs an explicit selection",
      "pass --on SELECTOR (e.g. --on @server), or set meta.allowApplyAll to true",
    );
  }
  const nodes = selectNodes(hive.nodes, options.on);
  const positive = (value: number | undefined, what: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new UsageError(`${what} must be a whole number of at least 1, got ${value}`);
    return value;
  };
  const magicGoal = options.goal === "switch" || options.goal === "test";
  const batchSize = resolveBatchSize(options.batchSize ?? hive.meta.rollout?.batchSize, nodes.length);
  const names = orderForRollout(nodes, hive.meta.rollout?.order ?? []).map((n) => n.name);
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += batchSize ?? names.length) batches.push(names.slice(i, i + (batchSize ?? names.length)));
  const maxFailures = options.maxFailures ?? hive.meta.rollout?.maxFailures ?? (batchSize === undefined ? null : 0);
  return {
    goal: options.goal,
    flake: hive.meta.flake,
    nodes: nodes.map((n) => ({
      name: n.name,
      buildOnTarget: options.buildOnTarget === true || n.buildOnTarget,
      rollback: options.rollback !== false && n.rollback,
      confirmTimeout: magicGoal && options.magicRollback !== false && n.magicRollback ? n.confirmTimeout : 0,
      healthChecks: Object.keys(n.healthChecks),
    })),
    batches,
    maxFailures,
    forceUnlock: options.forceUnlock === true,
    uploadKeys: options.keys !== false && goalUploadsKeys(options.goal),
    parallel: positive(options.parallel, "--parallel") ?? hive.meta.parallel,
    evalNodeLimit: positive(options.evalNodeLimit, "--eval-node-limit") ?? DEFAULT_EVAL_NODE_LIMIT,
    showTrace: options.showTrace ?? false,
    keepResult: options.keepResult ?? false,
    substitute: options.substitute ?? true,
    reactivate: options.reactivate ?? false,
    maxJobs: positive(options.maxJobs, "--max-jobs"),
    machinesFile: hive.meta.machinesFile,
  };
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

export interface NodeOutcome {
  name: string;
  result: NodeResult;
  drvPath: string | null;
  outPath: string | null;
  durationMs: number;
  error: { code: string; message: string } | null;
  /** The last lines of the node's log, for failures. */
  log: string[];
  /** Health checks run after activation. */
  checks: CheckOutcome[];
}

export interface ApplyReport {
  goal: Goal | "rollback";
  nodes: NodeOutcome[];
  interrupted: boolean;
}

export interface ApplyContext {
  hive: Hive;
  runner: ProcessRunner & ByteRunner;
  hostFor: (node: Node) => Host;
  reporter: Reporter;
  /** True once the operator asked to stop (first Ctrl-C): start nothing new. */
  interrupted: () => boolean;
  env?: Record<string, string | undefined>;
  hiveVersion: string;
  now?: () => number;
}

const LOG_TAIL = 20;
/** Separates the state probe's output from the key manifest's in the lock script's output. */
const KEYS_MANIFEST_MARK = "hive-keys-manifest";

/** Per-node outcomes and logs while a command runs; `finish` records a node's result once. */
export function trackOutcomes(names: readonly string[], reporter: Reporter, now: () => number) {
  const started = now();
  const states = new Map<string, NodeOutcome>(
    names.map((name) => [name, { name, result: "skipped", drvPath: null, outPath: null, durationMs: 0, error: null, log: [], checks: [] }]),
  );
  const logs = new Map<string, string[]>(names.map((name) => [name, []]));
  const log = (node: string | undefined, line: string, source: "nix" | "activation") => {
    if (node !== undefined) {
      const lines = logs.get(node);
      if (lines) {
        lines.push(line);
        if (lines.length > 200) lines.splice(0, lines.length - 200);
      }
    }
    reporter.emit({ kind: "log", node, source, line });
  };
  const finish = (
    name: string,
    result: NodeResult,
    error: { code: string; message: string } | null = null,
    extraLog: string[] = [],
    checks: CheckOutcome[] = [],
  ) => {
    const state = states.get(name)!;
    state.result = result;
    state.error = error;
    state.checks = checks;
    state.durationMs = now() - started;
    if (result === "failed" || result === "rolled-back") {
      state.log = [...(logs.get(name) ?? []), ...extraLog].filter((l) => l.trim() !== "").slice(-LOG_TAIL);
    }
    reporter.emit({ kind: "node-done", node: name, result, message: error?.message, durationMs: state.durationMs });
  };
  return { states, logs, log, finish };
}

export async function executeApply(plan: ApplyPlan, context: ApplyContext): Promise<ApplyReport> {
  const now = context.now ?? Date.now;
  const started = now();
  const nodesByName = new Map(context.hive.nodes.map((n) => [n.name, n]));
  const { states, log, finish, logs } = trackOutcomes(plan.nodes.map((n) => n.name), context.reporter, now);
  // The first nodes to deploy connect while Nix evaluates and builds: their handshakes cost no
  // waiting later. A failure here is reported when the node gets to it (deployNode). A node with
  // keys to upload is contacted only once its key sources have been read, as before: one whose
  // source fails is never reached.
  const hosts = new Map<string, Host>();
  const hostOf = (name: string) => {
    let host = hosts.get(name);
    if (host === undefined) hosts.set(name, (host = context.hostFor(nodesByName.get(name)!)));
    return host;
  };
  const connecting = new Map<string, Promise<Error | null>>();
  if (plan.goal !== "build") {
    for (const name of (plan.batches[0] ?? []).slice(0, plan.parallel)) {
      if (plan.uploadKeys && Object.keys(nodesByName.get(name)!.keys).length > 0) continue;
      connecting.set(name, hostOf(name).connect().then(() => null, (error: Error) => error));
    }
  }

  // 1. Evaluate, in chunks.
  for (const n of plan.nodes) context.reporter.emit({ kind: "phase", node: n.name, phase: "eval" });
  const evaluated = await evaluateSystems(
    plan.nodes.map((n) => ({ node: n.name, attribute: nodesByName.get(n.name)!.system })),
    { runner: context.runner, flake: plan.flake, chunkSize: plan.evalNodeLimit, showTrace: plan.showTrace, env: context.env },
  );
  const live: { name: string; drvPath: string; outPath: string; buildOnTarget: boolean }[] = [];
  for (const outcome of evaluated) {
    if (outcome.ok) {
      Object.assign(states.get(outcome.node)!, { drvPath: outcome.drvPath, outPath: outcome.outPath });
      live.push({ name: outcome.node, drvPath: outcome.drvPath, outPath: outcome.outPath, buildOnTarget: plan.nodes.find((n) => n.name === outcome.node)!.buildOnTarget });
    } else {
      finish(outcome.node, "failed", { code: "E_EVAL", message: outcome.error }, outcome.error.split("\n"));
    }
  }
  if (context.interrupted()) return report(plan, states, true);

  // 2. Build everything that is built here, in one invocation.
  const localBuilds = live.filter((n) => !n.buildOnTarget || plan.goal === "build");
  for (const n of localBuilds) context.reporter.emit({ kind: "phase", node: n.name, phase: "build" });
  const built = await buildSystems(
    localBuilds.map((n) => ({ node: n.name, drvPath: n.drvPath, outPath: n.outPath })),
    { runner: context.runner, maxJobs: plan.maxJobs, machinesFile: plan.machinesFile, env: context.env, onLine: (line, node) => log(node, line, "nix") },
  );
  const buildFailed = new Set<string>();
  for (const outcome of built) {
    if (!outcome.ok) {
      buildFailed.add(outcome.node);
      finish(outcome.node, "failed", { code: "E_BUILD", message: firstLine(outcome.error) }, outcome.error.split("\n"));
    }
  }
  const ready = live.filter((n) => !buildFailed.has(n.name));
  if (plan.keepResult) await keepResults(ready.filter((n) => !n.buildOnTarget || plan.goal === "build"), context);
  if (plan.goal === "build") {
    for (const n of ready) finish(n.name, "succeeded");
    return report(plan, states, context.interrupted());
  }

  // 3. Push and activate, batch by batch; within a batch, node by node in parallel.
  const revision = await readFlakeRevision(plan.flake, context.runner);
  const deployedBy = `${deployingUser()}@${hostname()}`;
  const owner: LockOwner = { holder: deployedBy, pid: process.pid, startedAt: new Date(started).toISOString() };
  const readyByName = new Map(ready.map((n) => [n.name, n]));
  const plannedByName = new Map(plan.nodes.map((n) => [n.name, n]));
  const limit = pLimit(plan.parallel);
  // Read only when some node needs a push: a fleet that is already up to date starts no Nix process for it.
  let closuresRead: Promise<LocalClosures> | undefined;
  const closures = () => (closuresRead ??= queryClosures(context.runner, ready.map((n) => (n.buildOnTarget ? n.drvPath : n.outPath)), context.env));
  const failures = () => [...states.values()].filter((s) => isFailure(s.result)).length;
  let stoppedBy: string | null = null;
  for (const batch of plan.batches) {
    if (stoppedBy !== null || context.interrupted()) break;
    await Promise.all(
      batch.flatMap((name) => {
        const n = readyByName.get(name);
        if (n === undefined) return [];
        return [
          limit(async () => {
            if (context.interrupted()) return; // stays skipped
            const node = nodesByName.get(name)!;
            const planned = plannedByName.get(name)!;
            const deployment: NodeDeployment = { ...n, node, planned, host: hostOf(name), connected: connecting.get(name) ?? Promise.resolve(null) };
            await deployNode(deployment, { plan, context, log, finish, logsFor: (node) => logs.get(node) ?? [], owner, closures, recordBase: { system: "", goal: plan.goal, deployedAt: "", deployedBy, hiveFile: context.hive.file, flake: plan.flake, flakeRevision: revision.commit, flakeDirty: revision.dirty, hiveVersion: context.hiveVersion }, now });
          }),
        ];
      }),
    );
    if (plan.maxFailures !== null && failures() > plan.maxFailures) {
      stoppedBy = `${failures()} failed node(s) exceed the maximum of ${plan.maxFailures} failures`;
    }
  }
  if (stoppedBy !== null) {
    for (const state of states.values()) {
      if (state.result === "skipped" && state.error === null && readyByName.has(state.name)) {
        state.error = { code: "E_STOPPED", message: `not started: ${stoppedBy}` };
        context.reporter.emit({ kind: "node-done", node: state.name, result: "skipped", message: state.error.message, durationMs: 0 });
      }
    }
  }
  return report(plan, states, context.interrupted());
}

interface NodeDeployment {
  name: string;
  drvPath: string;
  outPath: string;
  buildOnTarget: boolean;
  node: Node;
  planned: PlannedNode;
  host: Host;
  /** The connection opened ahead (while Nix ran), with its failure if it failed. */
  connected: Promise<Error | null>;
}

interface DeployTools {
  plan: ApplyPlan;
  context: ApplyContext;
  log: (node: string | undefined, line: string, source: "nix" | "activation") => void;
  finish: (name: string, result: NodeResult, error?: { code: string; message: string } | null, extraLog?: string[], checks?: CheckOutcome[]) => void;
  logsFor: (node: string) => string[];
  owner: LockOwner;
  recordBase: DeploymentRecord;
  now: () => number;
  /** The local store's view of every closure to push, read once (on first use) for all nodes. */
  closures: () => Promise<LocalClosures>;
}

/** One node: lock, ask what it runs, push, activate under supervision, confirm, check, roll back. */
async function deployNode(n: NodeDeployment, tools: DeployTools): Promise<void> {
  const { plan, context, log, finish } = tools;
  const emitPhase = (phase: Phase) => context.reporter.emit({ kind: "phase", node: n.name, phase });
  let lock: HeldLock | undefined;
  let prepared: PreparedKeys | null = null;
  try {
    // Every key source is read before anything on the node changes: one that fails fails the node untouched.
    prepared = plan.uploadKeys ? await prepareKeys(n.node, context.runner, { cwd: context.hive.dir, env: context.env }) : null;
    const host = n.host;
    emitPhase("connect");
    const connectError = await n.connected;
    if (connectError !== null) throw connectError;
    // The lock script reads the node's state (and hive's record of its keys) once it holds the
    // lock: one round trip for all of it.
    const thenRun = prepared === null ? stateProbeScript(n.node.profile) : `${stateProbeScript(n.node.profile)}\necho ${KEYS_MANIFEST_MARK}\n${keyManifestScript()}`;
    lock = await acquireNodeLock(host, tools.owner, { force: plan.forceUnlock, thenRun });
    if (lock.stale !== null) context.reporter.emit({ kind: "warning", message: `${n.name}: took over a stale lock (${lock.stale})` });
    const lines = lock.output.split("\n");
    const mark = lines.indexOf(KEYS_MANIFEST_MARK);
    const manifestListing = mark === -1 ? undefined : lines.slice(mark + 1).join("\n");
    const before = parseNodeState(mark === -1 ? lock.output : lines.slice(0, mark).join("\n"));
    if (!plan.reactivate && isAlreadyDeployed(plan.goal, before, n.outPath)) {
      // The system is in place; its keys may not be (changed in hive.ts, or lost to a reboot).
      let changed = false;
      if (prepared !== null) {
        if (prepared.keys.length > 0) emitPhase("keys");
        const uploaded = await uploadKeys(host, prepared, "all");
        const removed = await removeStaleKeys(host, n.node, { manifestListing });
        changed = uploaded.some((k) => k.outcome !== "unchanged") || removed.length > 0;
      }
      finish(n.name, changed ? "succeeded" : "unchanged");
      return;
    }
    if (context.interrupted()) return;
    emitPhase("push");
    const onLine = (line: string) => log(n.name, line, "nix");
    const closures = await tools.closures();
    if (n.buildOnTarget) {
      await host.copyClosure(closures.closure(n.drvPath), { substitute: plan.substitute, onLine });
      await host.buildOnNode(n.drvPath, onLine);
    } else {
      await host.copyClosure(closures.closure(n.outPath), { substitute: plan.substitute, onLine });
    }
    if (!goalActivates(plan.goal)) {
      finish(n.name, "succeeded");
      return;
    }
    if (context.interrupted()) return;
    if (prepared !== null) {
      // A phase shown only when there is something to upload in it.
      if (prepared.keys.some((k) => k.uploadAt === "pre-activation")) emitPhase("keys");
      await uploadKeys(host, prepared, "pre-activation");
    }
    const keysAfterActivation = prepared;
    await activateAndCheck(
      host,
      {
        name: n.name,
        node: n.node,
        rollback: n.planned.rollback,
        confirmTimeout: n.planned.confirmTimeout,
        system: n.outPath,
        goal: plan.goal,
        profileAction: goalSetsProfile(plan.goal) ? { kind: "set" } : { kind: "none" },
        afterActivation:
          keysAfterActivation === null
            ? undefined
            : async () => {
                if (keysAfterActivation.keys.some((k) => k.uploadAt === "post-activation")) emitPhase("keys");
                await uploadKeys(host, keysAfterActivation, "post-activation");
                await removeStaleKeys(host, n.node, { manifestListing });
              },
      },
      tools,
    );
  } catch (error) {
    finish(n.name, "failed", describeNodeError(error), nodeErrorLog(error));
  } finally {
    if (prepared !== null) wipePreparedKeys(prepared);
    await lock?.release();
  }
}

export interface ActivationUnit {
  name: string;
  node: Node;
  rollback: boolean;
  /** Seconds the node waits for confirmation; 0: none. */
  confirmTimeout: number;
  system: string;
  goal: Goal;
  profileAction: SupervisorOptions["profile_action"];
  /** Runs once the node verifiably runs the new system, before health checks (post-activation keys). */
  afterActivation?: () => Promise<void>;
}

type ActivationTools = Pick<DeployTools, "context" | "log" | "finish" | "logsFor" | "recordBase" | "now">;

/**
 * Activate `unit.system` under supervision, confirm, verify, run health checks, and return the
 * node to what it ran before when any of that fails (unless rollback is off). Reports via finish.
 */
export async function activateAndCheck(host: Host, unit: ActivationUnit, tools: ActivationTools): Promise<void> {
  const { context, log, finish } = tools;
  const emitPhase = (phase: Phase) => context.reporter.emit({ kind: "phase", node: unit.name, phase });
  emitPhase("activate");
  const setsProfile = unit.profileAction.kind !== "none";
  const record: DeploymentRecord = { ...tools.recordBase, system: unit.system, deployedAt: new Date(tools.now()).toISOString() };
  const run = await runSupervisedActivation(
    host,
    {
      profile: unit.node.profile,
      system: unit.system,
      goal: unit.goal,
      profile_action: unit.profileAction,
      confirmTimeout: unit.confirmTimeout,
      rollbackOnFailure: unit.rollback && unit.goal !== "dry-activate",
      writeRecord: unit.profileAction.kind === "set",
    },
    `${JSON.stringify(record, null, 2)}\n`,
    { onLine: (line) => log(unit.name, line, "activation") },
  );
  const activationFailure = activationError(run.activationExit, tools.logsFor(unit.name));
  switch (run.result) {
    case "profile-failed":
      return finish(unit.name, "failed", { code: "E_PROFILE", message: `could not set the profile ${unit.node.profile}; nothing changed` });
    case "reverted-failed":
      return finish(unit.name, "rolled-back", { code: activationFailure.code, message: `${activationFailure.message}; returned to ${describePrevious(run)}` });
    case "failed":
      return finish(unit.name, "failed", {
        code: activationFailure.code,
        message: unit.rollback && unit.goal !== "dry-activate"
          ? `${activationFailure.message}; nothing to return to (first deployment), left as is`
          : activationFailure.message,
      });
    case "revert-failed":
      return finish(unit.name, "failed", { code: "E_ROLLBACK_FAILED", message: `${activationFailure.message}; returning to the previous system failed too: the node needs attention` });
    case "reverted-unconfirmed":
      return finish(unit.name, "rolled-back", { code: "E_UNCONFIRMED", message: `hive's confirmation did not reach the node within ${unit.confirmTimeout} s; it returned to ${describePrevious(run)}` });
    case "unconfirmed":
    case "lost":
      return finish(unit.name, "failed", { code: run.result === "lost" ? "E_LOST" : "E_UNCONFIRMED", message: run.problem ?? "lost the node during activation" });
    case "activated":
    case "confirmed":
      break;
  }

  emitPhase("verify");
  // Read by the poll that brought the supervisor's final word: no extra round trip.
  const after = run.state;
  const mismatch = verificationProblem(unit.goal, after, unit.system);
  if (mismatch !== null) return finish(unit.name, "failed", { code: "E_VERIFY", message: mismatch });
  await unit.afterActivation?.();

  if ((unit.goal === "switch" || unit.goal === "test") && Object.keys(unit.node.healthChecks).length > 0) {
    emitPhase("check");
    const checks = await runHealthChecks(unit.node.healthChecks, { host, targetHost: unit.node.targetHost });
    const failed = checks.filter((c) => !c.passed);
    if (failed.length === 0) return finish(unit.name, "succeeded", null, [], checks);
    const what = `health check ${failed.map((c) => c.name).join(", ")} failed: ${failed[0]!.output.split("\n").slice(0, 3).join(" / ")}`;
    const checkLog = failed.flatMap((c) => [`check ${c.name} (${c.attempts} attempts):`, ...c.output.split("\n")]);
    if (!unit.rollback) return finish(unit.name, "failed", { code: "E_HEALTH", message: `${what}; rollback is off, left as is` }, checkLog, checks);
    if (run.prevSystem === null || (setsProfile && run.prevGeneration === null)) {
      return finish(unit.name, "failed", { code: "E_HEALTH", message: `${what}; nothing to return to (first deployment), left as is` }, checkLog, checks);
    }
    emitPhase("rollback");
    const back = await returnToPrevious(host, unit, run, tools);
    if (back !== null) return finish(unit.name, "failed", { code: "E_ROLLBACK_FAILED", message: `${what}; rolling back failed: ${back}` }, checkLog, checks);
    return finish(unit.name, "rolled-back", { code: "E_HEALTH", message: `${what}; returned to ${describePrevious(run)}` }, checkLog, checks);
  }
  finish(unit.name, "succeeded");
}

/** Re-activate what the node ran before (switch: the previous generation; test: the previous system) and verify it. */
async function returnToPrevious(host: Host, n: ActivationUnit, run: ActivationRun, tools: ActivationTools): Promise<string | null> {
  const goal = n.goal;
  const setsProfile = n.profileAction.kind !== "none";
  const back = await runSupervisedActivation(
    host,
    {
      profile: n.node.profile,
      system: run.prevSystem!,
      goal: goal === "test" ? "test" : "switch",
      profile_action: setsProfile ? { kind: "switch-generation", generation: run.prevGeneration! } : { kind: "none" },
      confirmTimeout: 0,
      rollbackOnFailure: false,
      writeRecord: false,
    },
    `${JSON.stringify({ ...tools.recordBase, system: run.prevSystem, goal: "rollback", deployedAt: new Date(tools.now()).toISOString() })}\n`,
    { onLine: (line) => tools.log(n.name, line, "activation") },
  );
  if (back.result !== "activated") return back.problem ?? `the previous system's activation ended with ${back.result}`;
  const state = await host.probe();
  if (state.current !== run.prevSystem) return `the node runs ${state.current ?? "nothing known"}, not ${run.prevSystem}`;
  return null;
}

function describePrevious(run: ActivationRun): string {
  return run.prevGeneration !== null ? `generation ${run.prevGeneration} (${run.prevSystem ?? "?"})` : `the previous system (${run.prevSystem ?? "?"})`;
}

/** Unchanged means the node already is what the goal would make it: asked of the node, not cached. */
export function isAlreadyDeployed(goal: Goal, state: { current: string | null; profile: string | null }, outPath: string): boolean {
  switch (goal) {
    case "switch":
      return state.current === outPath && state.profile === outPath;
    case "boot":
      return state.profile === outPath;
    case "test":
    case "dry-activate":
    case "push":
      return state.current === outPath;
    default:
      return false;
  }
}

function verificationProblem(goal: Goal, state: { current: string | null; profile: string | null }, outPath: string): string | null {
  if ((goal === "switch" || goal === "test") && state.current !== outPath) {
    return `activation reported success, but the node runs ${state.current ?? "nothing known"} instead of ${outPath}`;
  }
  if (goalSetsProfile(goal) && state.profile !== outPath) {
    return `activation reported success, but the profile names ${state.profile ?? "nothing"} instead of ${outPath}`;
  }
  return null;
}

function activationError(exitCode: number | null, output: string[]): { code: string; message: string } {
  if (exitCode === 4) {
    const units = parseFailedUnits(output.join("\n"));
    return {
      code: "E_UNITS_FAILED",
      message: `switch-to-configuration exited 4: some units failed${units.length > 0 ? `: ${units.join(", ")}` : ""}; the node runs the new system`,
    };
  }
  const last = output.filter((l) => l.trim() !== "" && !l.startsWith("hive: profile")).at(-1);
  return {
    code: "E_ACTIVATION",
    message: `switch-to-configuration exited ${exitCode ?? "without a status (connection lost?)"}${last ? `: ${last}` : ""}`,
  };
}

async function keepResults(nodes: { name: string; outPath: string }[], context: ApplyContext): Promise<void> {
  const rootDir = `${context.hive.dir}/.hive/gcroots`;
  for (const n of nodes) {
    await context.runner.run("nix-store", ["--realise", n.outPath, "--add-root", `${rootDir}/${n.name}`, "--indirect"], { env: context.env });
  }
}

function report(plan: ApplyPlan, states: Map<string, NodeOutcome>, interrupted: boolean): ApplyReport {
  return { goal: plan.goal, nodes: plan.nodes.map((n) => states.get(n.name)!), interrupted };
}


function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "") ?? text;
}

/** Who deploys: the local user, for deployment records and lock owners. */
export function deployingUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env["USER"] ?? "unknown";
  }
}
