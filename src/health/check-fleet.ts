// `hive check`: every selected node's health checks, now, without deploying.
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import type { Host } from "../host/host.js";
import { type CheckOutcome, runHealthChecks } from "./checks.js";

export interface NodeHealth {
  name: string;
  /** Every check passed (true for a node with no checks). */
  healthy: boolean;
  checks: CheckOutcome[];
}

export async function checkFleet(
  nodes: readonly Node[],
  options: { hostFor: (node: Node) => Host; parallel: number; signal?: AbortSignal },
): Promise<NodeHealth[]> {
  const limit = pLimit(options.parallel);
  return Promise.all(
    nodes.map((node) =>
      limit(async () => {
        const checks = await runHealthChecks(node.healthChecks, { host: options.hostFor(node), targetHost: node.targetHost, signal: options.signal });
        return { name: node.name, healthy: checks.every((c) => c.passed), checks };
      }),
    ),
  );
}
