// Renders `hive check`: one row per check, and which nodes are unhealthy.
import type { ChalkInstance } from "chalk";
import type { Delivery } from "../fleet/alerts.js";
import type { NodeHealth } from "../fleet/check.js";
import { renderTable } from "./table.js";

export function checkReportJson(report: readonly NodeHealth[]): unknown {
  return { nodes: report.map((n) => ({ name: n.name, result: n.healthy ? "succeeded" : "failed", healthy: n.healthy, reachable: n.reachable, error: n.error, checks: n.checks })) };
}

/** Narrow terminals: DETAIL is shortened first, then ATTEMPTS and LATENCY are dropped in that order. */
export function renderCheckTable(report: readonly NodeHealth[], c: ChalkInstance, width: number | null = null): string {
  const rows = report.flatMap((n) =>
    !n.reachable
      ? [[c.bold(n.name), c.dim("(not run)"), c.red("UNREACHABLE"), "0", "-", n.error ? `${n.error.code}: ${n.error.message}` : ""]]
      : n.checks.length === 0
      ? [[c.bold(n.name), c.dim("(no checks)"), "", "", "", ""]]
      : n.checks.map((check) => [
          c.bold(n.name),
          check.name,
          check.passed ? c.green("pass") : c.red("FAIL"),
          String(check.attempts),
          `${check.latencyMs} ms`,
          // What a check saw, passing or not: a cmd check's exit code and its output's first lines.
          [...(check.passed && check.description ? [check.description] : []), ...check.output.split("\n").filter((l) => l.trim() !== "").slice(0, 3)].join(" / "),
        ]),
  );
  return renderTable(
    [{ header: "NODE" }, { header: "CHECK" }, { header: "RESULT" }, { header: "ATTEMPTS", drop: 1 }, { header: "LATENCY", drop: 2 }, { header: "DETAIL", min: 20 }],
    rows,
    (h) => c.dim(h),
    width,
  );
}

export function summarizeCheck(report: readonly NodeHealth[]): string {
  const failing = report.filter((n) => n.reachable && !n.healthy).map((n) => n.name);
  const unreachable = report.filter((n) => !n.reachable).map((n) => n.name);
  const healthy = report.length - failing.length - unreachable.length;
  return [`${healthy}/${report.length} nodes healthy`, ...(failing.length > 0 ? [`failing: ${failing.join(", ")}`] : []), ...(unreachable.length > 0 ? [`unreachable: ${unreachable.join(", ")}`] : [])].join("; ");
}

/** One line per alert `--notify` sent (or could not send), for stderr. */
export function renderAlerts(deliveries: readonly Delivery[], c: ChalkInstance): string[] {
  return deliveries.map(({ alert, delivered, error }) => {
    const what = `${alert.node}${alert.check === null ? "" : ` check ${alert.check}`} ${alert.state === "degraded" ? c.red("degraded") : c.green("recovered")}`;
    return delivered ? `alert sent: ${what}` : `${c.red("alert NOT sent:")} ${what}: ${error ?? "unknown error"}`;
  });
}
