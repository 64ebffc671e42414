// Renders `hive status --format openmetrics`: the fleet's state as metrics for node_exporter's
// textfile collector (or any scraper). Only gauges, each family once with HELP and TYPE, no
// timestamps, ending in `# EOF`: valid OpenMetrics 1.0 and Prometheus text format 0.0.4 alike.
import { VERDICTS, type NodeStatus, type StatusReport } from "../fleet/status.js";
import type { NodeEventKind } from "../node/events.js";

interface Family {
  name: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

const RESULTS: readonly NodeEventKind[] = ["deployed", "rolled-back", "rollback", "failed"];

export function renderOpenMetrics(report: StatusReport, now = Date.now()): string {
  const families: Family[] = [];
  const family = (name: string, help: string, sample: (s: NodeStatus) => { labels?: Record<string, string>; value: number | null | undefined }[]) => {
    const samples = report.nodes.flatMap((s) => sample(s).flatMap((x) => (x.value === null || x.value === undefined || !Number.isFinite(x.value) ? [] : [{ labels: { node: s.name, ...x.labels }, value: x.value }])));
    families.push({ name, help, samples });
  };
  const bool = (b: boolean | null | undefined) => (b === null || b === undefined ? null : b ? 1 : 0);
  const seconds = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : null);

  families.push({ name: "hive_nodes", help: "Nodes hive status looked at.", samples: [{ labels: {}, value: report.total }] });
  families.push({ name: "hive_nodes_in_sync", help: "Nodes that run and boot what hive.ts wants.", samples: [{ labels: {}, value: report.inSync }] });
  families.push({ name: "hive_status_timestamp_seconds", help: "When hive status read the fleet.", samples: [{ labels: {}, value: now / 1000 }] });
  family("hive_node_reachable", "1 when hive could reach the node over SSH.", (s) => [{ value: bool(s.reachable) }]);
  family("hive_node_in_sync", "1 when the node runs and boots what hive.ts wants.", (s) => [{ value: bool(s.verdict === "in-sync") }]);
  family("hive_node_verdict", "The node's verdict: 1 for the one that holds, 0 for the others.", (s) => VERDICTS.map((v) => ({ labels: { verdict: v }, value: bool(s.verdict === v) })));
  family("hive_node_healthy", "1 when every health check of the node passed (absent for a node without checks).", (s) => [{ value: bool(s.health?.healthy) }]);
  family("hive_node_check_passed", "1 when the health check passed now.", (s) => (s.health?.checks ?? []).map((c) => ({ labels: { check: c.name }, value: bool(c.passed) })));
  family("hive_node_service_up", "1 when the service's unit, port and check are all fine (absent when nothing is known).", (s) => s.services.map((x) => ({ labels: { service: x.name }, value: bool(x.up) })));
  family("hive_node_keys_missing", "Keys hive.ts gives the node that are not on it.", (s) => [{ value: s.keys === null || s.keys.error !== null ? null : s.keys.missing.length }]);
  family("hive_node_generation", "Profile generation of the running system.", (s) => [{ value: s.generation }]);
  family("hive_node_activated_timestamp_seconds", "When the running system was activated.", (s) => [{ value: seconds(s.activatedAt) }]);
  family("hive_node_last_deploy_timestamp_seconds", "When the node's last deploy, rollback or failure ended.", (s) => [{ value: seconds(s.events[0]?.at) }]);
  family("hive_node_last_deploy_result", "The node's last event: 1 for its kind, 0 for the others.", (s) => (s.events[0] ? RESULTS.map((r) => ({ labels: { result: r }, value: bool(s.events[0]!.kind === r) })) : []));
  family("hive_node_needs_reboot", "1 when the booted kernel, initrd or modules differ from the running system's.", (s) => [{ value: bool(s.needsReboot) }]);
  family("hive_node_failed_units", "Failed systemd units.", (s) => [{ value: s.failedUnits?.length }]);
  family("hive_node_uptime_seconds", "Seconds since the node booted.", (s) => [{ value: s.uptimeSeconds }]);
  family("hive_node_load1", "One-minute load average.", (s) => [{ value: s.resources?.load?.[0] }]);
  family("hive_node_memory_total_bytes", "Memory of the node.", (s) => [{ value: s.resources?.memory?.totalBytes }]);
  family("hive_node_memory_available_bytes", "Memory available for new work.", (s) => [{ value: s.resources?.memory?.availableBytes }]);
  family("hive_node_filesystem_size_bytes", "Size of the filesystem holding the path.", (s) => (s.resources?.disks ?? []).map((d) => ({ labels: { path: d.path }, value: d.sizeBytes })));
  family("hive_node_filesystem_used_bytes", "Bytes used on the filesystem holding the path.", (s) => (s.resources?.disks ?? []).map((d) => ({ labels: { path: d.path }, value: d.usedBytes })));

  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} gauge`);
    for (const sample of f.samples) {
      const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      lines.push(`${f.name}${labels.length > 0 ? `{${labels.join(",")}}` : ""} ${formatValue(sample.value)}`);
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));
}
