// Renders `hive status` and `hive history`: a table per node or generation, and the in-sync summary line.
import type { ChalkInstance } from "chalk";
import { foldNodeNames } from "../fleet/group.js";
import type { HistoryReport } from "../fleet/history.js";
import type { NodeStatus, StatusReport, Verdict } from "../fleet/status.js";
import type { DeploymentRecord } from "../host/host.js";
import { renderTable } from "./table.js";

/** `/nix/store/<32 chars>-nixos-system-web-1-2` -> `<8 chars>-nixos-system-web-1-2`. */
export function shortSystemPath(path: string | null): string {
  if (path === null) return "-";
  return path.replace(/^\/nix\/store\//, "").replace(/^([0-9a-z]{8})[0-9a-z]{24}/, "$1");
}

/** 59 -> `59s`, 3600 -> `1h 0m`, 200000 -> `2d 7h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function ago(iso: string | null, now: number): string {
  if (iso === null) return "-";
  return `${formatDuration((now - Date.parse(iso)) / 1000)} ago`;
}

function verdictColor(c: ChalkInstance, verdict: Verdict): (s: string) => string {
  return verdict === "in-sync" ? c.green : verdict === "drift" ? c.yellow : c.red;
}

/** `root@deployer, rev 1a2b3c4` (`+dirty` when the tree had changes). */
export function describeDeployment(record: DeploymentRecord | null): string {
  if (record === null) return "-";
  const rev = record.flakeRevision ? `, rev ${record.flakeRevision.slice(0, 7)}${record.flakeDirty ? "+dirty" : ""}` : record.flakeDirty ? ", dirty tree" : "";
  return `${record.deployedBy}${rev}`;
}

function notes(status: NodeStatus, c: ChalkInstance): string {
  const parts: string[] = [];
  if (status.verdict === "drift") parts.push(`${status.reason}; hive.ts wants ${shortSystemPath(status.desired)}`);
  else if (status.verdict === "unknown") parts.push(status.error?.message.split("\n")[0] ?? status.evalError?.split("\n")[0] ?? status.reason ?? "");
  if (status.needsReboot) parts.push(c.yellow("needs-reboot"));
  return parts.filter((p) => p !== "").join("; ");
}

function healthCell(status: NodeStatus, c: ChalkInstance): string {
  if (status.health === null) return "-";
  if (status.health.healthy) return c.green("ok");
  const failing = status.health.checks.filter((check) => !check.passed).map((check) => check.name);
  return c.red(`failing: ${failing.join(", ")}`);
}

function unitsCell(status: NodeStatus, c: ChalkInstance): string {
  if (status.failedUnits === null) return "-";
  if (status.failedUnits.length === 0) return "none";
  return c.red(status.failedUnits.length > 2 ? `${status.failedUnits.slice(0, 2).join(" ")} +${status.failedUnits.length - 2}` : status.failedUnits.join(" "));
}

export function renderStatusTable(report: StatusReport, c: ChalkInstance, now = Date.now()): string {
  return renderTable(
    ["NODE", "SSH", "VERDICT", "SYSTEM", "GEN", "ACTIVATED", "UPTIME", "FAILED-UNITS", "HEALTH", "DEPLOYED-BY", "NOTES"],
    report.nodes.map((s) => [
      c.bold(s.name),
      s.reachable ? `${s.latencyMs}ms` : c.red("unreachable"),
      verdictColor(c, s.verdict)(s.verdict),
      shortSystemPath(s.current),
      s.generation ?? "-",
      ago(s.activatedAt, now),
      s.uptimeSeconds === null ? "-" : formatDuration(s.uptimeSeconds),
      unitsCell(s, c),
      healthCell(s, c),
      describeDeployment(s.deployment),
      notes(s, c),
    ]),
    (h) => c.dim(h),
  );
}

/** `4/6 nodes in sync (67%); drift: t2; unreachable: t3`. */
export function summarizeStatus(report: StatusReport, c: ChalkInstance): string {
  const percent = report.total === 0 ? 100 : Math.round((report.inSync / report.total) * 100);
  const line = `${report.inSync}/${report.total} nodes in sync (${percent}%)`;
  const named = (label: string, nodes: NodeStatus[]) => (nodes.length === 0 ? [] : [`${label}: ${foldNodeNames(nodes.map((n) => n.name))}`]);
  const parts = [
    ...named("drift", report.nodes.filter((n) => n.verdict === "drift")),
    ...named("unreachable", report.nodes.filter((n) => !n.reachable)),
    ...named("unknown", report.nodes.filter((n) => n.reachable && n.verdict === "unknown")),
    ...named("unhealthy", report.nodes.filter((n) => n.health !== null && !n.health.healthy)),
    ...named("needs-reboot", report.nodes.filter((n) => n.needsReboot === true)),
  ];
  const all = report.inSync === report.total && parts.length === 0;
  return [all ? c.green(line) : c.yellow(line), ...parts].join("; ");
}

export function renderHistoryTable(report: HistoryReport, c: ChalkInstance): string {
  const rows: (string | number)[][] = [];
  for (const node of report.nodes) {
    if (node.error) {
      rows.push([c.bold(node.name), "-", "-", c.red(node.error.message.split("\n")[0] ?? ""), "", "", ""]);
      continue;
    }
    if (node.generations.length === 0) rows.push([c.bold(node.name), "-", "-", c.dim("no generations"), "", "", ""]);
    for (const g of node.generations) {
      const mark = g.current && g.profile ? c.green("current") : g.current ? c.yellow("running") : g.profile ? c.yellow("next boot") : "";
      const record = g.deployment;
      rows.push([
        c.bold(node.name),
        g.number,
        g.date.replace(/\.\d+Z$/, "Z"),
        shortSystemPath(g.system),
        mark,
        describeDeployment(record),
        record ? record.goal : "",
      ]);
    }
  }
  return renderTable(["NODE", "GEN", "DATE", "SYSTEM", "STATE", "DEPLOYED-BY", "GOAL"], rows, (h) => c.dim(h));
}
