// `hive status`: what every node runs against what hive.ts wants now, probed in parallel, as data.
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import { type ErrorSummary, summarizeError } from "../errors.js";
import { runHealthChecks } from "../health/checks.js";
import { type EvaluatedNode, type EvalRequest, type EvalSettings, evaluateNodes } from "../nix/eval.js";
import { EvalCache } from "../nix/eval-cache.js";
import { resolveFlake } from "../nix/flake-ref.js";
import { injectedNodeData } from "./node-data.js";
import type { HostFacts } from "../host/host.js";
import type { NodeEvent } from "../node/events.js";
import { runningGeneration } from "../node/facts.js";
import type { NodeResources } from "../node/probes.js";
import type { DeploymentRecord } from "../node/record.js";
import type { RunContext } from "../run-context.js";
import { selectNodes } from "../selection/selector.js";
import {
  type Explanation,
  type KeysStatus,
  type ServiceStatus,
  activationTime,
  describeProblems,
  explainDrift,
  judgeKeys,
  judgeServices,
  runningRecord,
} from "./status-explain.js";

export const VERDICTS = ["in-sync", "drift", "activating", "unknown"] as const;
/**
 * in-sync: runs and will boot what hive.ts wants; drift: it does not; activating: an activation is
 * under way or waits for hive's decision (it may still revert); unknown: unreachable, or hive.ts
 * did not evaluate.
 */
export type Verdict = (typeof VERDICTS)[number];

/** Result of a node's health checks (hive.ts healthChecks); null for a node without any. */
export interface NodeHealth {
  healthy: boolean;
  checks: { name: string; passed: boolean; message: string | null }[];
}

export interface NodeStatus {
  name: string;
  reachable: boolean;
  /** Milliseconds to connect and authenticate. */
  latencyMs: number | null;
  /** What the node runs (/run/current-system). */
  current: string | null;
  /** What hive.ts evaluates to now; null when evaluation failed. */
  desired: string | null;
  verdict: Verdict;
  /** What is off, one line (drift, unknown); `explanation` says why. */
  reason: string | null;
  /** Why the node drifted, in words, from its event log and records. */
  explanation: Explanation | null;
  /** The flake commit the running system was deployed from, and the one hive.ts is at now. */
  runningCommit: string | null;
  wantedCommit: string | null;
  /** Generation of the running system, and when it was activated (see activatedAtSource). */
  generation: number | null;
  activatedAt: string | null;
  /** link: /run/current-system's date; event: the node's event log; record: the deployment record; generation: the profile link's date. */
  activatedAtSource: "link" | "event" | "record" | "generation" | null;
  /** What the profile names (the next boot), and its generation. */
  profile: string | null;
  profileGeneration: number | null;
  uptimeSeconds: number | null;
  /** Failed systemd units; null where systemd does not run. */
  failedUnits: string[] | null;
  /** Null when the node has no health checks. */
  health: NodeHealth | null;
  /** hive.ts's services on the node. */
  services: ServiceStatus[];
  /** Keys hive.ts gives the node: missing, stale; null for a node without keys. */
  keys: KeysStatus | null;
  resources: NodeResources | null;
  /** Booted kernel, initrd or modules differ from the running system's; null without /run/booted-system. */
  needsReboot: boolean | null;
  booted: string | null;
  /** hive's record of the running system: when, by whom, from which flake revision. */
  deployment: DeploymentRecord | null;
  /** The node's last event (deploy, rollback, failure), newest first: the last few. */
  events: NodeEvent[];
  /** Every sentence worth reading beyond the verdict: services down, keys missing, failing checks, ... */
  problems: string[];
  /** Why the node could not be probed. */
  error: ErrorSummary | null;
  /** Why hive.ts could not be evaluated for this node. */
  evalError: string | null;
}

export interface StatusReport {
  /** In hive.ts order. */
  nodes: NodeStatus[];
  inSync: number;
  total: number;
  /** The flake commit hive.ts is at (null outside git). */
  commit: string | null;
  dirty: boolean | null;
}

export interface StatusOptions {
  on?: string;
  eval: EvalSettings;
  /** Nodes probed at once; default all of them. */
  parallel?: number;
}

/** What hive.ts wants: each node's system, and the flake commit it comes from. */
export interface DesiredSystems {
  evaluated: EvaluatedNode[];
  commit: string | null;
  dirty: boolean | null;
}

/** Evaluates what hive.ts wants of the nodes (src/nix's evaluator in the CLI; a table in tests). */
export type EvaluateDesired = (requests: EvalRequest[], settings: EvalSettings) => Promise<DesiredSystems>;

export interface NodeProbe {
  node: Node;
  latencyMs: number | null;
  facts: HostFacts | null;
  health: NodeHealth | null;
  error: ErrorSummary | null;
}

/** What hive.ts wants, evaluated as a deploy evaluates it (same evaluators, same cache). */
export function evaluateDesired(context: RunContext): EvaluateDesired {
  return async (requests, settings) => {
    const flake = await resolveFlake(context.hive.meta.flake, context.runner);
    const warn = (message: string) => context.reporter.emit({ code: "run.warning", message });
    const evaluated: EvaluatedNode[] = [];
    await evaluateNodes(requests, {
      runner: context.runner,
      flake,
      settings,
      cache: settings.cache ? new EvalCache(context.cacheDir, warn) : null,
      env: context.env,
      signal: context.signal,
      inject: await injectedNodeData(context.hive),
      onEvaluated: (o) => void evaluated.push(o),
      onWarning: (nodes, message) => context.reporter.emit({ code: "eval.warning", nodes, message }),
      missing: "node-error",
    });
    return { evaluated, commit: flake.commit, dirty: flake.dirty };
  };
}

/** Evaluate the desired systems and probe every node at the same time; never rejects for a node's failure. */
export async function collectStatus(options: StatusOptions, context: RunContext, evaluate: EvaluateDesired): Promise<StatusReport> {
  const nodes = selectNodes(context.hive.nodes, options.on);
  // A flake that does not evaluate at all leaves every node's desired system unknown; the probes
  // still run, and the error is the run's, raised once they are done.
  const evaluation = evaluate(nodes.map((n) => ({ node: n.name, attribute: n.system })), options.eval).then(
    (wanted) => ({ wanted, error: null }),
    (error: unknown) => ({ wanted: { evaluated: [] as EvaluatedNode[], commit: null, dirty: null } as DesiredSystems, error }),
  );
  const limit = pLimit(options.parallel ?? Math.max(1, nodes.length));
  const probes = Promise.all(nodes.map((node) => limit(() => probeNode(node, context))));
  const [{ wanted, error }, probed] = await Promise.all([evaluation, probes]);
  if (error !== null) throw error;
  const desired = new Map(wanted.evaluated.map((e) => [e.node, e]));
  const statuses = probed.map((probe) => judge(probe, desired.get(probe.node.name), wanted));
  return { nodes: statuses, inSync: statuses.filter((s) => s.verdict === "in-sync").length, total: statuses.length, commit: wanted.commit, dirty: wanted.dirty };
}

async function probeNode(node: Node, context: RunContext): Promise<NodeProbe> {
  const probe: NodeProbe = { node, latencyMs: null, facts: null, health: null, error: null };
  const host = context.hostFor(node);
  try {
    probe.latencyMs = Math.round((await host.connect()).latencyMs);
    probe.facts = await host.facts("status");
    // "Healthy now?", not "healthy within the deadline": one attempt per check.
    if (Object.keys(node.healthChecks).length > 0) {
      const outcomes = await runHealthChecks(node.healthChecks, { host, targetHost: node.targetHost, signal: context.signal, once: true });
      probe.health = {
        healthy: outcomes.every((o) => o.passed),
        checks: outcomes.map((o) => ({ name: o.name, passed: o.passed, message: o.passed ? null : o.output.split("\n")[0] || null })),
      };
    }
  } catch (error) {
    probe.error = summarizeError(error);
  } finally {
    host.close();
  }
  return probe;
}

/** Combine what the node runs with what hive.ts wants into a verdict, and say why. Pure. */
export function judge(probe: NodeProbe, evaluated: EvaluatedNode | undefined, wanted: Pick<DesiredSystems, "commit" | "dirty"> = { commit: null, dirty: null }): NodeStatus {
  const facts = probe.facts;
  const desired = evaluated?.ok ? evaluated.outPath : null;
  const evalError = evaluated && !evaluated.ok ? evaluated.error.message : evaluated === undefined ? "not evaluated" : null;
  const running = facts ? runningGeneration(facts) : null;
  const activated = facts ? activationTime(facts) : { at: null, source: null };
  const deployment = facts ? runningRecord(facts) : null;
  const checks = new Map((probe.health?.checks ?? []).map((c) => [c.name, c]));
  const status: NodeStatus = {
    name: probe.node.name,
    reachable: probe.latencyMs !== null,
    latencyMs: probe.latencyMs,
    current: facts?.current ?? null,
    desired,
    verdict: "unknown",
    reason: null,
    explanation: null,
    runningCommit: deployment?.flakeRevision ?? null,
    wantedCommit: wanted.commit,
    generation: running?.number ?? null,
    activatedAt: activated.at,
    activatedAtSource: activated.source,
    profile: facts?.profile ?? null,
    profileGeneration: facts?.profileGeneration ?? null,
    uptimeSeconds: facts?.uptimeSeconds ?? null,
    failedUnits: facts?.failedUnits ?? null,
    health: probe.health,
    services: facts ? judgeServices(probe.node, facts, checks) : [],
    keys: facts ? judgeKeys(facts) : null,
    resources: facts?.resources ?? null,
    needsReboot: facts?.kernelChanged ?? null,
    booted: facts?.booted ?? null,
    deployment,
    events: facts ? [...facts.events].reverse().slice(0, 5) : [],
    problems: [],
    error: probe.error,
    evalError,
  };
  if (facts === null) {
    status.reason = probe.latencyMs === null ? "unreachable" : "could not read the node's state";
  } else if (facts.activation !== null) {
    status.verdict = "activating";
    const who = facts.activation.deployedBy ? ` by ${facts.activation.deployedBy}` : "";
    status.reason = `an activation${who} is under way or waits for its confirmation: the node may still return to its previous system`;
  } else if (desired === null) {
    status.reason = "hive.ts did not evaluate for this node";
  } else if (facts.current !== desired) {
    status.verdict = "drift";
    status.reason = facts.current === null ? "runs no system hive can see (/run/current-system is missing)" : "runs another system than hive.ts wants";
  } else if (facts.profileDangling) {
    status.verdict = "drift";
    status.reason = "runs what hive.ts wants, but its profile names a generation that no longer exists: the next boot has no system";
  } else if (facts.profile !== desired) {
    status.verdict = "drift";
    status.reason = facts.profile === null
      ? "runs what hive.ts wants, but its profile names nothing: the next boot would not run it"
      : "runs what hive.ts wants, but its profile (the next boot) names another system";
  } else {
    status.verdict = "in-sync";
  }
  if (status.verdict === "drift" && facts !== null && desired !== null) status.explanation = explainDrift(facts, desired, wanted);
  status.problems = describeProblems(status);
  return status;
}

/** Exit 0 material: reachable, in sync, healthy (or without checks), every service up, no key missing. */
export function isNodeOk(status: NodeStatus): boolean {
  return (
    status.reachable &&
    status.verdict === "in-sync" &&
    (status.health === null || status.health.healthy) &&
    status.services.every((s) => s.up !== false) &&
    (status.keys === null || status.keys.missing.length === 0)
  );
}
