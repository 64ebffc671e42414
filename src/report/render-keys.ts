// Renders `hive upload-keys`: a row per node with what happened to its keys, and failure logs.
import type { ChalkInstance } from "chalk";
import { isFailure } from "../events.js";
import type { KeyRunReport } from "../fleet/upload-keys.js";
import { resultColor } from "./format-event.js";
import { renderTable } from "./table.js";

export function keysReportJson(report: KeyRunReport): unknown {
  return {
    goal: "keys",
    nodes: report.nodes.map((n) => ({ name: n.name, result: n.result, keys: n.keys, removed: n.removed, durationMs: n.durationMs, error: n.error })),
  };
}

export function renderKeysDetails(report: KeyRunReport, c: ChalkInstance): string[] {
  return report.nodes
    .filter((n) => isFailure(n.result) && n.log.length > 0)
    .flatMap((n) => [`${c.red.bold(n.name)} ${c.dim(`(${n.error?.code ?? n.result}), last lines of its log:`)}`, ...n.log.map((l) => `  ${c.dim(l)}`)]);
}

/** Narrow terminals: ERROR is shortened first, then DURATION is dropped. */
export function renderKeysTable(report: KeyRunReport, c: ChalkInstance, width: number | null = null): string {
  return renderTable(
    [{ header: "NODE" }, { header: "RESULT" }, { header: "KEYS", min: 10 }, { header: "DURATION", drop: 1 }, { header: "ERROR", min: 20 }],
    report.nodes.map((n) => [
      c.bold(n.name),
      resultColor(c, n.result)(n.result),
      summarizeKeys(n),
      `${(n.durationMs / 1000).toFixed(1)}s`,
      n.error ? `${n.error.code}: ${n.error.message.split("\n")[0]!}` : "",
    ]),
    (h) => c.dim(h),
    width,
  );
}

/** `2 written, 1 unchanged, 1 removed`, or `-`. */
function summarizeKeys(node: { keys: { outcome: string }[]; removed: unknown[] }): string {
  const written = node.keys.filter((k) => k.outcome === "written").length;
  const unchanged = node.keys.length - written;
  const parts = [written > 0 ? `${written} written` : "", unchanged > 0 ? `${unchanged} unchanged` : "", node.removed.length > 0 ? `${node.removed.length} removed` : ""];
  return parts.filter((p) => p !== "").join(", ") || "-";
}
