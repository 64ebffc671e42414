// Renders `hive history`: a node's generations (which runs, which boots next, who made them), then
// its event log (every deploy, rollback and failure, with why, commit and who).
import type { ChalkInstance } from "chalk";
import type { HistoryReport } from "../fleet/history.js";
import type { NodeEvent } from "../node/events.js";
import { describeDeployment, shortSystemPath } from "./render-status.js";
import { renderTable } from "./table.js";

const DATE = (iso: string) => iso.replace(/\.\d+Z$/, "Z");

/** Dropped first when the terminal is narrow: SYSTEM (shortened first), GOAL, DEPLOYED-BY. */
export function renderHistoryTable(report: HistoryReport, c: ChalkInstance, width: number | null = null): string {
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
      rows.push([c.bold(node.name), g.number, DATE(g.date), shortSystemPath(g.system), mark, describeDeployment(record), record ? record.goal : ""]);
    }
  }
  return renderTable(
    [{ header: "NODE" }, { header: "GEN" }, { header: "DATE" }, { header: "SYSTEM", drop: 3, min: 12 }, { header: "STATE" }, { header: "DEPLOYED-BY", drop: 1, min: 12 }, { header: "GOAL", drop: 2 }],
    rows,
    (h) => c.dim(h),
    width,
  );
}

function eventColor(c: ChalkInstance, event: NodeEvent): (s: string) => string {
  return event.kind === "deployed" ? c.green : event.kind === "rollback" ? c.cyan : event.kind === "rolled-back" ? c.yellow : c.red;
}

/** Every event of every node, oldest first; empty when no node has any. Dropped first: SYSTEM, COMMIT, BY, GEN. */
export function renderEventsTable(report: HistoryReport, c: ChalkInstance, width: number | null = null): string {
  const rows = report.nodes.flatMap((node) =>
    node.events.map((e) => [
      c.bold(node.name),
      DATE(e.at),
      eventColor(c, e)(e.kind),
      e.generation ?? "-",
      shortSystemPath(e.system),
      e.deployment?.flakeRevision ? `${e.deployment.flakeRevision.slice(0, 7)}${e.deployment.flakeDirty ? "+dirty" : ""}` : "-",
      e.deployment?.deployedBy ?? "-",
      e.error ? `${e.error.code}: ${e.error.message}` : "",
    ]),
  );
  if (rows.length === 0) return "";
  return renderTable(
    [{ header: "NODE" }, { header: "WHEN" }, { header: "EVENT" }, { header: "GEN", drop: 4 }, { header: "SYSTEM", drop: 1, min: 12 }, { header: "COMMIT", drop: 2 }, { header: "BY", drop: 3, min: 10 }, { header: "WHY", min: 20 }],
    rows,
    (h) => c.dim(h),
    width,
  );
}
