// `hive check`: every selected node's health checks, now, without deploying.
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import { type CheckOutcome, runHealthChecks } from "../health/checks.js";
import type { RunContext } from "../run-context.js";

export interface NodeHealth {
  name: string;
  /** Every check passed (true for a node with no checks). */
  healthy: boolean;
  checks: CheckOutcome[];
}

export async function checkFleet(nodes: readonly Node[], options: { parallel: number; once?: boolean }, context: RunContext): Promise<NodeHealth[]> {
  const limit = pLimit(options.parallel);
  return Promise.all(
    nodes.map((node) =>
      limit(async () => {
        const host = context.hostFor(node);
        try {
          const checks = await runHealthChecks(node.healthChecks, {
            host,
            targetHost: node.targetHost,
            signal: context.signal,
            once: options.once === true,
            onAttempt: (check, attempt, passed, output) => context.reporter.emit({ code: "node.check", node: node.name, check, attempt, passed, output }),
          });
          return { name: node.name, healthy: checks.every((c) => c.passed), checks };
        } finally {
          host.close();
        }
      }),
    ),
  );
}
