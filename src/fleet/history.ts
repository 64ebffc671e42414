// `hive history`: a node's profile generations, which one runs and which one boots, with hive's
// records, and every event of its log (deploys, rollbacks, failures, with why, commit and who).
import type { Hive, Node } from "../config/normalize.js";
import { type ErrorSummary, UsageError, summarizeError } from "../errors.js";
import type { Host } from "../host/host.js";
import { runningGeneration } from "../node/facts.js";
import type { NodeEvent } from "../node/events.js";
import type { DeploymentRecord } from "../node/record.js";
import { selectNodes } from "../selection/selector.js";

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
  /** hive's event log of the node, oldest first: every deploy, rollback and failure. */
  events: NodeEvent[];
  error: ErrorSummary | null;
}

export interface HistoryReport {
  nodes: NodeHistory[];
}

export function selectHistoryNodes(hive: Hive, on: string | undefined): Node[] {
  if (on === undefined) throw new UsageError("hive history needs --on NODE", "e.g. hive history --on web-1");
  return selectNodes(hive.nodes, on);
}

export async function collectHistory(nodes: readonly Node[], hostFor: (node: Node) => Host): Promise<HistoryReport> {
  return { nodes: await Promise.all(nodes.map((node) => nodeHistory(hostFor(node)))) };
}

async function nodeHistory(host: Host): Promise<NodeHistory> {
  const history: NodeHistory = { name: host.node.name, generations: [], current: null, events: [], error: null };
  try {
    const facts = await host.facts("history");
    const running = runningGeneration(facts);
    history.current = facts.current;
    history.events = facts.events;
    history.generations = facts.generations.map((g) => ({
      number: g.number,
      date: new Date(g.createdAt * 1000).toISOString(),
      system: g.system,
      current: g.number === running?.number,
      profile: g.number === facts.profileGeneration,
      deployment: facts.records.get(g.number) ?? null,
    }));
  } catch (error) {
    history.error = summarizeError(error);
  } finally {
    host.close();
  }
  return history;
}
