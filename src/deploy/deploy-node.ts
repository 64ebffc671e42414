// One node's deployment once its system is built: lock, ask what it runs, push, upload keys,
// activate under supervision, verify, check, confirm or roll back.
import { errorLog, summarizeError } from "../errors.js";
import { LockLostError, lockGuardScript } from "../activation/lock.js";
import type { Host, NodeLock } from "../host/host.js";
import { type PreparedKeys, prepareKeys, removeStaleKeys, uploadKeys, wipePreparedKeys } from "../keys/index.js";
import type { ClosureReader } from "../nix/closure.js";
import type { NodeState } from "../node/facts.js";
import type { DeploymentRecord } from "../node/record.js";
import type { ApplyPlan, PlannedNode } from "../plan/apply-plan.js";
import { type Goal, goalActivates, goalSetsProfile } from "../plan/goal.js";
import type { RunContext } from "../run-context.js";
import { activateAndCheck, runNodeChecks } from "./activate.js";
import type { OutcomeTracker } from "./outcomes.js";

export interface BuiltNode {
  planned: PlannedNode;
  drvPath: string;
  outPath: string;
  host: Host;
  /** The connection opened ahead (while Nix ran), with its failure if it failed. */
  connected: Promise<Error | null>;
}

export interface DeployTools {
  plan: ApplyPlan;
  context: RunContext;
  tracker: OutcomeTracker;
  /** The record written beside each new generation; `system` and `deployedAt` are filled in per node. */
  recordBase: DeploymentRecord;
  /** The local store's view of the closures to push, read for many nodes at once. */
  closures: ClosureReader;
}

export async function deployNode(n: BuiltNode, tools: DeployTools): Promise<void> {
  const { plan, context, tracker } = tools;
  const node = n.planned.node;
  const name = node.name;
  let lock: NodeLock | undefined;
  let prepared: PreparedKeys | null = null;
  // Every step that changes the node first makes sure this run still holds its lock.
  const stillLocked = () => {
    if (lock?.lost()) throw new LockLostError("another run");
  };
  try {
    // Every key source is read before anything on the node changes: one that fails fails the node untouched.
    prepared = plan.uploadKeys ? await prepareKeys(node, context.runner, { cwd: context.hive.dir, env: context.env }) : null;
    tracker.phase(name, "connect");
    const connectError = await n.connected;
    if (connectError !== null) throw connectError;
    lock = await n.host.lock({ holder: context.deployer.name, pid: context.deployer.pid, startedAt: context.deployer.startedAt }, { force: plan.forceUnlock, withKeysManifest: prepared !== null });
    if (lock.stale !== null) context.reporter.emit({ code: "run.warning", message: `${name}: took over a stale lock (${lock.stale})` });
    const guard = lockGuardScript(lock.token);
    const keysManifest = lock.keysManifest;

    if (!plan.reactivate && isAlreadyDeployed(plan.goal, lock.state, n.outPath)) {
      // The system is in place; its keys may not be (changed in hive.ts, or lost to a reboot), and
      // its services may have died since: a dead service must not read as success.
      let changed = false;
      if (prepared !== null) {
        if (prepared.keys.length > 0) tracker.phase(name, "keys");
        stillLocked();
        const uploaded = await uploadKeys(n.host, prepared, "all");
        const removed = await removeStaleKeys(n.host, node, { manifestListing: keysManifest });
        changed = uploaded.some((k) => k.outcome !== "unchanged") || removed.length > 0;
      }
      if ((plan.goal === "switch" || plan.goal === "test") && n.planned.healthChecks.length > 0) {
        tracker.phase(name, "check");
        const checks = await runNodeChecks(n.host, node, tracker);
        const failed = checks.filter((c) => !c.passed);
        if (failed.length > 0) {
          return tracker.finish(name, {
            result: "failed",
            error: { code: "E_HEALTH", message: `the node already runs the desired system, but health check ${failed.map((c) => c.name).join(", ")} fails: ${failed[0]!.output.split("\n")[0]}` },
            log: failed.flatMap((c) => [`check ${c.name}:`, ...c.output.split("\n")]),
            checks,
          });
        }
        return tracker.finish(name, { result: changed ? "succeeded" : "unchanged", checks });
      }
      return tracker.finish(name, { result: changed ? "succeeded" : "unchanged" });
    }
    if (context.signal.aborted) return tracker.skip(name, { code: "E_INTERRUPTED", message: "not started: interrupted" });

    tracker.phase(name, "push");
    const onLine = (line: string) => tracker.log(name, line, "nix");
    const closure = await tools.closures.closure(n.planned.buildOnTarget ? n.drvPath : n.outPath);
    stillLocked();
    await n.host.copyClosure(closure, { substitute: plan.substitute, onLine, guard });
    if (n.planned.buildOnTarget) {
      tracker.phase(name, "build");
      await n.host.buildOnNode(n.drvPath, onLine);
    }
    if (!goalActivates(plan.goal)) return tracker.finish(name, { result: "succeeded" });
    if (context.signal.aborted) return tracker.skip(name, { code: "E_INTERRUPTED", message: "pushed, not activated: interrupted" });

    if (prepared !== null && prepared.keys.some((k) => k.uploadAt === "pre-activation")) {
      tracker.phase(name, "keys");
      stillLocked();
      await uploadKeys(n.host, prepared, "pre-activation");
    }
    const keys = prepared;
    await activateAndCheck(
      n.host,
      {
        node,
        rollback: n.planned.rollback,
        decisionWindow: n.planned.decisionWindow,
        system: n.outPath,
        goal: plan.goal,
        profileAction: goalSetsProfile(plan.goal) ? { kind: "set" } : { kind: "none" },
        record: { ...tools.recordBase, system: n.outPath, goal: plan.goal, deployedAt: new Date(context.now()).toISOString() },
        guard,
        afterActivation:
          keys === null
            ? undefined
            : async () => {
                if (keys.keys.some((k) => k.uploadAt === "post-activation")) tracker.phase(name, "keys");
                stillLocked();
                await uploadKeys(n.host, keys, "post-activation");
                await removeStaleKeys(n.host, node, { manifestListing: keysManifest });
              },
      },
      tracker,
    );
  } catch (error) {
    const summary = summarizeError(error);
    tracker.finish(name, { result: "failed", error: summary, log: errorLog(error).length > 0 ? errorLog(error) : undefined });
    // A failure once hive held the node (push, keys, starting the activation) goes into the node's
    // event log too: the supervisor logs only what it ran, and `hive status` explains from the log.
    if (lock !== undefined && !lock.lost() && !(error instanceof LockLostError)) {
      const record = { ...tools.recordBase, system: n.outPath, goal: plan.goal, deployedAt: new Date(context.now()).toISOString() };
      await n.host
        .recordEvent({ at: new Date(context.now()).toISOString(), result: "failed", system: n.outPath, previous: lock.state.current, generation: null, previousGeneration: lock.state.profileGeneration, error: summary, deployment: record })
        .catch((e: Error) => context.reporter.emit({ code: "run.warning", message: `${name}: ${e.message}` }));
    }
  } finally {
    if (prepared !== null) wipePreparedKeys(prepared);
    await lock?.release();
  }
}

/** Unchanged means the node already is what the goal would make it: asked of the node, not cached. */
export function isAlreadyDeployed(goal: Goal, state: NodeState, outPath: string): boolean {
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
