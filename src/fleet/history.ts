// `hive history`: a node's profile generations, which one runs and which one boots, with hive's records.
import type { Hive, Node } from "../config/normalize.js";
import type { DeploymentRecord } from "../host/host.js";
import { UsageError } from "../errors.js";
import { selectNodes } from "../selection/selector.js";
import { nodeFactsScript, parseNodeFacts, runningGeneration } from "./node-facts.js";
import { type ConnectNode, type NodeError, describeNodeError, remoteCommand } from "./remote.js";

export interface GenerationEntry {
  number: number;
  /** When the generation was made (its profile link's mtime), ISO 8601. */
  date: string;
  system: string;
  /** The node runs it. */
  current: boolean;
  /** The profile names it: the node boots it next. */
  profile: boolean;
  /** hive's record of the deployment that made it, when hive made it. */
  deployment: DeploymentRecord | null;
}

export interface NodeHistory {
  name: string;
  /** Oldest first. */
  generations: GenerationEntry[];
  /** What the node runs, also when no generation names it. */
  current: string | null;
  error: NodeError | null;
}

export interface HistoryReport {
  nodes: NodeHistory[];
}

export function selectHistoryNodes(hive: Hive, on: string | undefined): Node[] {
  if (on === undefined) throw new UsageError("hive history needs --on NODE", "e.g. hive history --on web-1");
  return selectNodes(hive.nodes, on);
}

export async function collectHistory(nodes: readonly Node[], context: { connect: ConnectNode; signal?: AbortSignal }): Promise<HistoryReport> {
  return { nodes: await Promise.all(nodes.map((node) => nodeHistory(node, context))) };
}

async function nodeHistory(node: Node, context: { connect: ConnectNode; signal?: AbortSignal }): Promise<NodeHistory> {
  const history: NodeHistory = { name: node.name, generations: [], current: null, error: null };
  try {
    const connection = await context.connect(node);
    try {
      const run = await connection.exec(remoteCommand(node, ["sh", "-c", nodeFactsScript(node.profile, { allRecords: true })], false), {
        timeoutMs: 60_000,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (run.exitCode !== 0) {
        history.error = { code: "E_PROBE", message: `could not list the generations: ${run.timedOut ? "timed out" : run.stderr.trim() || `exit ${run.exitCode}`}` };
        return history;
      }
      const facts = parseNodeFacts(run.stdout, node.profile);
      const running = runningGeneration(facts);
      history.current = facts.current;
      history.generations = facts.generations.map((g) => ({
        number: g.number,
        date: new Date(g.createdAt * 1000).toISOString(),
        system: g.system,
        current: g.number === running?.number,
        profile: g.number === facts.profileGeneration,
        deployment: facts.records.get(g.number) ?? null,
      }));
    } finally {
      connection.close();
    }
  } catch (error) {
    history.error = describeNodeError(error);
  }
  return history;
}
