// `hive status`: what every node runs against what hive.ts wants now, probed in parallel, as data.
import pLimit from "p-limit";
import type { Hive, Node } from "../config/normalize.js";
import type { DeploymentRecord } from "../host/host.js";
import { DEFAULT_EVAL_NODE_LIMIT, type EvalOutcome, evaluateSystems } from "../nix/eval.js";
import type { ProcessRunner } from "../nix/runner.js";
import { selectNodes } from "../selection/selector.js";
import type { SshConnection } from "../ssh/connection.js";
import { nodeFactsScript, parseNodeFacts, runningGeneration, type NodeFacts } from "./node-facts.js";
import { type ConnectNode, type NodeError, describeNodeError, remoteCommand } from "./remote.js";

export const VERDICTS = ["in-sync", "drift", "unknown"] as const;
/** in-sync: runs and will boot what hive.ts wants; drift: it does not; unknown: unreachable, or hive.ts did not evaluate. */
export type Verdict = (typeof VERDICTS)[number];

/** Result of a node's health checks (hive.ts healthChecks); null for a node without any. */
export interface NodeHealth {
  healthy: boolean;
  checks: { name: string; passed: boolean; message: string | null }[];
}

/** The hook for health checks: given the node and its open connection, its health, or null when it has no checks. */
export type CheckNodeHealth = (node: Node, connection: SshConnection) => Promise<NodeHealth | null>;

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
  /** Why the verdict is drift or unknown, one line. */
  reason: string | null;
  /** Generation of the running system, and when its profile link was made. */
  generation: number | null;
  activatedAt: string | null;
  /** What the profile names (the next boot), and its generation. */
  profile: string | null;
  profileGeneration: number | null;
  uptimeSeconds: number | null;
  /** Failed systemd units; null where systemd does not run. */
  failedUnits: string[] | null;
  /** Null when the node has no health checks. */
  health: NodeHealth | null;
  /** Booted kernel, initrd or modules differ from the running system's; null without /run/booted-system. */
  needsReboot: boolean | null;
  booted: string | null;
  /** hive's record of the running generation: when, by whom, from which flake revision. */
  deployment: DeploymentRecord | null;
  /** Why the node could not be probed. */
  error: NodeError | null;
  /** Why hive.ts could not be evaluated for this node. */
  evalError: string | null;
}

export interface StatusReport {
  /** In hive.ts order. */
  nodes: NodeStatus[];
  inSync: number;
  total: number;
}

export interface StatusOptions {
  on?: string;
  evalNodeLimit?: number;
  showTrace?: boolean;
  /** Nodes probed at once; default all of them. */
  parallel?: number;
}

export interface StatusContext {
  hive: Hive;
  runner: ProcessRunner;
  connect: ConnectNode;
  /** Health checks per node (status-health.ts runs hive.ts's); without it health stays null. */
  checkHealth?: CheckNodeHealth;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Seconds per probe script; default 30. */
  probeTimeoutMs?: number;
}

const PROBE_TIMEOUT_MS = 30_000;

/** Evaluate the desired systems and probe every node at the same time; never rejects for a node's failure. */
export async function collectStatus(options: StatusOptions, context: StatusContext): Promise<StatusReport> {
  const nodes = selectNodes(context.hive.nodes, options.on);
  const evaluation = evaluateSystems(
    nodes.map((n) => ({ node: n.name, attribute: n.system })),
    {
      runner: context.runner,
      flake: context.hive.meta.flake,
      chunkSize: options.evalNodeLimit ?? DEFAULT_EVAL_NODE_LIMIT,
      showTrace: options.showTrace ?? false,
      env: context.env,
      signal: context.signal,
    },
  );
  const limit = pLimit(options.parallel ?? Math.max(1, nodes.length));
  const probes = Promise.all(nodes.map((node) => limit(() => probeNode(node, context))));
  const [evaluated, probed] = await Promise.all([evaluation, probes]);
  const desired = new Map<string, EvalOutcome>(evaluated.map((e) => [e.node, e]));
  const statuses = probed.map((probe) => judge(probe, desired.get(probe.name)));
  return { nodes: statuses, inSync: statuses.filter((s) => s.verdict === "in-sync").length, total: statuses.length };
}

export interface NodeProbe {
  name: string;
  latencyMs: number | null;
  facts: NodeFacts | null;
  health: NodeHealth | null;
  error: NodeError | null;
}

async function probeNode(node: Node, context: StatusContext): Promise<NodeProbe> {
  const probe: NodeProbe = { name: node.name, latencyMs: null, facts: null, health: null, error: null };
  let connection: SshConnection;
  try {
    connection = await context.connect(node);
  } catch (error) {
    probe.error = describeNodeError(error);
    return probe;
  }
  probe.latencyMs = Math.round(connection.latencyMs);
  try {
    const run = await connection.exec(remoteCommand(node, ["sh", "-c", nodeFactsScript(node.profile, { allRecords: false })], false), {
      timeoutMs: context.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    if (run.exitCode !== 0) {
      const why = run.timedOut ? "timed out" : run.stderr.trim().split("\n").at(-1) || `exit ${run.exitCode ?? run.signal}`;
      probe.error = { code: "E_PROBE", message: `could not read the node's state: ${why}` };
    } else {
      probe.facts = parseNodeFacts(run.stdout, node.profile);
      if (context.checkHealth) probe.health = await context.checkHealth(node, connection);
    }
  } catch (error) {
    probe.error = describeNodeError(error);
  } finally {
    connection.close();
  }
  return probe;
}

/** Combine what the node runs with what hive.ts wants into a verdict. Pure. */
export function judge(probe: NodeProbe, evaluated: EvalOutcome | undefined): NodeStatus {
  const facts = probe.facts;
  const desired = evaluated?.ok ? evaluated.outPath : null;
  const evalError = evaluated && !evaluated.ok ? evaluated.error : evaluated === undefined ? "not evaluated" : null;
  const running = facts ? runningGeneration(facts) : null;
  const status: NodeStatus = {
    name: probe.name,
    reachable: probe.latencyMs !== null,
    latencyMs: probe.latencyMs,
    current: facts?.current ?? null,
    desired,
    verdict: "unknown",
    reason: null,
    generation: running?.number ?? null,
    activatedAt: running ? new Date(running.createdAt * 1000).toISOString() : null,
    profile: facts?.profile ?? null,
    profileGeneration: facts?.profileGeneration ?? null,
    uptimeSeconds: facts?.uptimeSeconds ?? null,
    failedUnits: facts?.failedUnits ?? null,
    health: probe.health,
    needsReboot: facts?.kernelChanged ?? null,
    booted: facts?.booted ?? null,
    deployment: running ? (facts?.records.get(running.number) ?? null) : null,
    error: probe.error,
    evalError,
  };
  if (facts === null) {
    status.reason = probe.latencyMs === null ? "unreachable" : "could not read the node's state";
  } else if (desired === null) {
    status.reason = "hive.ts did not evaluate for this node";
  } else if (facts.current !== desired) {
    status.verdict = "drift";
    status.reason = facts.current === null ? "runs no system hive can see (/run/current-system is missing)" : "runs another system than hive.ts wants";
  } else if (facts.profile !== null && facts.profile !== desired) {
    status.verdict = "drift";
    status.reason = "runs what hive.ts wants, but its profile (the next boot) names another system";
  } else {
    status.verdict = "in-sync";
  }
  return status;
}

/** Exit 0 material: reachable, in sync, and healthy (or without checks). */
export function isNodeOk(status: NodeStatus): boolean {
  return status.reachable && status.verdict === "in-sync" && (status.health === null || status.health.healthy);
}
