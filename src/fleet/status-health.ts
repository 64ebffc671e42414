// Health for `hive status`: the node's health checks from hive.ts (src/health), one attempt each, on the probe's connection.
import type { HealthCheck } from "../config/schema.js";
import { runHealthChecks } from "../health/checks.js";
import { quoteCommand } from "../ssh/quote.js";
import type { CheckNodeHealth } from "./status.js";

/**
 * Status asks "healthy now?", not "healthy within the deadline": each check gets one attempt
 * (its timeout), so a failing check costs its timeout and no retries. Nodes without checks: null.
 */
export function healthFromChecks(signal?: AbortSignal): CheckNodeHealth {
  return async (node, connection) => {
    const checks = Object.entries(node.healthChecks);
    if (checks.length === 0) return null;
    const once: Record<string, HealthCheck> = Object.fromEntries(checks.map(([name, check]) => [name, { ...check, deadline: check.timeout, interval: check.timeout }]));
    const outcomes = await runHealthChecks(once, {
      host: {
        run: async (script, options = {}) => {
          const result = await connection.exec(quoteCommand(["sh", "-c", script]), {
            ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          });
          return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
        },
      },
      targetHost: node.targetHost,
      ...(signal ? { signal } : {}),
    });
    return {
      healthy: outcomes.every((o) => o.passed),
      checks: outcomes.map((o) => ({ name: o.name, passed: o.passed, message: o.passed ? null : o.output.split("\n")[0] || null })),
    };
  };
}
