// `hive check`: every selected node's health checks, now, without deploying. A node that can not
// be reached is reported at once: its checks are not run (nor retried until their deadlines).
import pLimit from "p-limit";
import type { Node } from "../config/normalize.js";
import { type ErrorSummary, summarizeError } from "../errors.js";
import { type CheckOutcome, runHealthChecks } from "../health/checks.js";
import type { RunContext } from "../run-context.js";

export interface NodeHealth {
  name: string;
  /** Every check passed (true for a reachable node with no checks); false when unreachable. */
  healthy: boolean;
  reachable: boolean;
  /** Why the node could not be reached (its checks did not run). */
  error: ErrorSummary | null;
  checks: CheckOutcome[];
}

export async function checkFleet(nodes: readonly Node[], options: { parallel: number; once?: boolean }, context: RunContext): Promise<NodeHealth[]> {
  const limit = pLimit(options.parallel);
  return Promise.all(
    nodes.map((node) =>
      limit(async (): Promise<NodeHealth> => {
        const host = context.hostFor(node);
        try {
          await host.connect();
        } catch (error) {
          host.close();
          return { name: node.name, healthy: false, reachable: false, error: summarizeError(error), checks: [] };
        }
        try {
          const checks = await runHealthChecks(node.healthChecks, {
            host,
            targetHost: node.targetHost,
            signal: context.signal,
            once: options.once === true,
            onAttempt: (check, attempt, passed, output) => context.reporter.emit({ code: "node.check", node: node.name, check, attempt, passed, output }),
          });
          return { name: node.name, healthy: checks.every((c) => c.passed), reachable: true, error: null, checks };
        } finally {
          host.close();
        }
      }),
    ),
  );
}
