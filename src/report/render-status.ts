// Renders `hive status`: a table per node (short notes), a table of services, then why each node
// is as it is in sentences (wrapped to the terminal), and the in-sync summary line.
import type { ChalkInstance } from "chalk";
import { foldNodeNames } from "../fleet/group.js";
import type { DriftCause } from "../fleet/status-explain.js";
import type { NodeStatus, StatusReport, Verdict } from "../fleet/status.js";
import type { DeploymentRecord } from "../node/record.js";
import { type Column, renderTable, visibleWidth } from "./table.js";

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

export function ago(iso: string | null, now: number): string {
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

const CAUSE_TAGS: Record<DriftCause, string> = {
  "rolled-back": "rolled back",
  failed: "deploy failed",
  rollback: "hive rollback",
  "changed-outside-hive": "changed outside hive",
  "never-deployed": "never deployed",
  "hive-ts-changed": "hive.ts changed",
  profile: "next boot differs",
};

/** Short tags; the sentences behind them follow the table. */
function notes(s: NodeStatus, c: ChalkInstance): string {
  const tags: string[] = [];
  if (s.explanation) tags.push(c.yellow(CAUSE_TAGS[s.explanation.cause]));
  else if (s.verdict === "unknown") tags.push(c.red(s.error ? s.error.code : s.evalError !== null ? "not evaluated" : (s.reason ?? "unknown")));
  else if (s.verdict === "activating") tags.push(c.yellow("activating"));
  for (const service of s.services) if (service.up === false) tags.push(c.red(`${service.name} down`));
  for (const key of s.keys?.missing ?? []) tags.push(c.red(`key ${key.name} missing`));
  if (s.keys?.error) tags.push(c.yellow("keys unknown"));
  if ((s.failedUnits?.length ?? 0) > 0) tags.push(c.red(`${s.failedUnits!.length} failed unit${s.failedUnits!.length === 1 ? "" : "s"}`));
  if (s.needsReboot) tags.push(c.yellow("needs-reboot"));
  return tags.join(", ");
}

function healthCell(status: NodeStatus, c: ChalkInstance): string {
  if (status.health === null) return "-";
  if (status.health.healthy) return c.green("ok");
  return c.red(`failing: ${status.health.checks.filter((check) => !check.passed).map((check) => check.name).join(", ")}`);
}

const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : "-");

function diskCell(s: NodeStatus): string {
  const disks = s.resources?.disks ?? [];
  if (disks.length === 0) return "-";
  const fullest = disks.reduce((a, b) => (b.usedBytes / Math.max(1, b.sizeBytes) > a.usedBytes / Math.max(1, a.sizeBytes) ? b : a));
  return `${fullest.path} ${percent(fullest.usedBytes, fullest.sizeBytes)}`;
}

const STATUS_COLUMNS: Column[] = [
  { header: "NODE" },
  { header: "SSH", drop: 4 },
  { header: "VERDICT" },
  { header: "SYSTEM", drop: 3, min: 12 },
  { header: "GEN", drop: 8 },
  { header: "ACTIVATED", drop: 9 },
  { header: "COMMIT", drop: 7 },
  { header: "UPTIME", drop: 1 },
  { header: "LOAD", drop: 5 },
  { header: "MEM", drop: 6 },
  { header: "DISK", drop: 10 },
  { header: "HEALTH", drop: 11, min: 12 },
  { header: "DEPLOYED-BY", drop: 2, min: 12 },
  { header: "NOTES", min: 24 },
];

/** Columns dropped, in this order, when the terminal is narrow: UPTIME, DEPLOYED-BY, SYSTEM, SSH, LOAD, MEM, COMMIT, GEN, ACTIVATED, DISK, HEALTH. */
export function renderStatusTable(report: StatusReport, c: ChalkInstance, width: number | null = null, now = Date.now()): string {
  return renderTable(
    STATUS_COLUMNS,
    report.nodes.map((s) => [
      c.bold(s.name),
      s.reachable ? `${s.latencyMs}ms` : c.red("unreachable"),
      verdictColor(c, s.verdict)(s.verdict),
      shortSystemPath(s.current),
      s.generation ?? "-",
      ago(s.activatedAt, now),
      s.runningCommit ? s.runningCommit.slice(0, 7) : "-",
      s.uptimeSeconds === null ? "-" : formatDuration(s.uptimeSeconds),
      s.resources?.load ? s.resources.load[0].toFixed(2) : "-",
      s.resources?.memory ? percent(s.resources.memory.totalBytes - s.resources.memory.availableBytes, s.resources.memory.totalBytes) : "-",
      diskCell(s),
      healthCell(s, c),
      describeDeployment(s.deployment),
      notes(s, c),
    ]),
    (h) => c.dim(h),
    width,
  );
}

/** hive.ts's services per node; empty when no node declares any. Dropped first: UNIT, PORT, CHECK. */
export function renderServicesTable(report: StatusReport, c: ChalkInstance, width: number | null = null): string {
  const rows = report.nodes.flatMap((s) =>
    s.services.map((service) => [
      c.bold(s.name),
      service.name,
      service.up === false ? c.red("down") : service.up === true ? c.green("up") : "?",
      service.unit,
      service.unitState ?? "unknown (no systemd)",
      service.port === null ? "-" : `${service.port} ${service.listening === null ? "?" : service.listening ? "listening" : c.red("closed")}`,
      service.check === null ? "-" : `${service.check} ${service.healthy === null ? "?" : service.healthy ? c.green("ok") : c.red("failing")}`,
    ]),
  );
  if (rows.length === 0) return "";
  return renderTable(
    [{ header: "NODE" }, { header: "SERVICE" }, { header: "STATE" }, { header: "UNIT", drop: 1, min: 12 }, { header: "UNIT-STATE", min: 8 }, { header: "PORT", drop: 2 }, { header: "CHECK", drop: 3, min: 8 }],
    rows,
    (h) => c.dim(h),
    width,
  );
}

/** Per node with something to say: why it drifted or is unknown, and its problems, wrapped to `width`. */
export function renderStatusDetails(report: StatusReport, c: ChalkInstance, width: number | null = null): string[] {
  const lines: string[] = [];
  for (const s of report.nodes) {
    const why = s.explanation?.message ?? (s.verdict === "unknown" ? (s.error?.message.split("\n")[0] ?? s.evalError?.split("\n")[0] ?? s.reason) : s.verdict === "activating" ? s.reason : null);
    const sentences = [...(why ? [why] : []), ...(s.verdict === "drift" && s.desired ? [`hive.ts wants ${shortSystemPath(s.desired)}`] : []), ...s.problems];
    if (sentences.length === 0) continue;
    const head = `${s.name}: `;
    sentences.forEach((sentence, i) => {
      const wrapped = wrap(sentence, width === null ? null : Math.max(20, width - head.length));
      wrapped.forEach((line, j) => lines.push(`${i === 0 && j === 0 ? c.bold(head) : " ".repeat(head.length)}${j === 0 ? "" : "  "}${line}`));
    });
  }
  return lines;
}

/** Words onto lines of at most `width` characters (a word longer than that stands alone); null: one line. */
export function wrap(text: string, width: number | null): string[] {
  if (width === null || visibleWidth(text) <= width) return [text];
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && visibleWidth(line) + 1 + visibleWidth(word) > width - (lines.length > 0 ? 2 : 0)) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** `4/6 nodes in sync (67%); drift: t2; unreachable: t3`. */
export function summarizeStatus(report: StatusReport, c: ChalkInstance): string {
  const percentInSync = report.total === 0 ? 100 : Math.round((report.inSync / report.total) * 100);
  const line = `${report.inSync}/${report.total} nodes in sync (${percentInSync}%)`;
  const named = (label: string, nodes: NodeStatus[]) => (nodes.length === 0 ? [] : [`${label}: ${foldNodeNames(nodes.map((n) => n.name))}`]);
  const parts = [
    ...named("drift", report.nodes.filter((n) => n.verdict === "drift")),
    ...named("unreachable", report.nodes.filter((n) => !n.reachable)),
    ...named("unknown", report.nodes.filter((n) => n.reachable && n.verdict === "unknown")),
    ...named("unhealthy", report.nodes.filter((n) => n.health !== null && !n.health.healthy)),
    ...named("services down", report.nodes.filter((n) => n.services.some((s) => s.up === false))),
    ...named("keys missing", report.nodes.filter((n) => (n.keys?.missing.length ?? 0) > 0)),
    ...named("needs-reboot", report.nodes.filter((n) => n.needsReboot === true)),
  ];
  const all = report.inSync === report.total && parts.length === 0;
  return [all ? c.green(line) : c.yellow(line), ...parts].join("; ");
}
