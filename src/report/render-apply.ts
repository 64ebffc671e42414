// Renders the outcome of apply, build and rollback: a result table (each error said once, in its
// row), the log tails that explain failures, what dry-activate would change, and a summary line.
import type { ChalkInstance } from "chalk";
import type { ApplyReport, NodeOutcome } from "../deploy/outcomes.js";
import { NODE_RESULTS, isFailure } from "../events.js";
import { resultColor } from "./format-event.js";
import { renderTable } from "./table.js";

/** `{ goal, nodes: [...] }`, the document `--json` prints. */
export function applyReportJson(report: ApplyReport): unknown {
  return {
    goal: report.goal,
    nodes: report.nodes.map((n) => ({
      name: n.name,
      result: n.result,
      drvPath: n.drvPath,
      outPath: n.outPath,
      durationMs: n.durationMs,
      error: n.error,
      checks: n.checks,
      ...(report.goal === "dry-activate" ? { changes: n.changes } : {}),
    })),
  };
}

/** The lines that explain each failure (stderr): the log tail of the step that failed, and dry-activate's changes. */
export function renderApplyDetails(report: ApplyReport, c: ChalkInstance): string[] {
  const lines: string[] = [];
  for (const node of report.nodes) {
    if (node.changes !== null && node.changes.length > 0) {
      lines.push(c.bold(`${node.name}: activation would`));
      for (const line of node.changes) lines.push(`  ${line}`);
    }
    if (isFailure(node.result) && node.log.length > 0) {
      lines.push(`${c.red.bold(node.name)} ${c.dim(`(${node.error?.code ?? node.result}), last lines of its log:`)}`);
      for (const line of node.log) lines.push(`  ${c.dim(line)}`);
    }
  }
  return lines;
}

/** Narrow terminals: ERROR and SYSTEM are shortened first, then GOAL, SYSTEM and DURATION are dropped in that order. */
export function renderApplyTable(report: ApplyReport, c: ChalkInstance, width: number | null = null): string {
  return renderTable(
    [{ header: "NODE" }, { header: "GOAL", drop: 1 }, { header: "RESULT" }, { header: "DURATION", drop: 3 }, { header: "SYSTEM", drop: 2, min: 12 }, { header: "ERROR", min: 24 }],
    report.nodes.map((n) => [
      c.bold(n.name),
      report.goal,
      resultColor(c, n.result)(n.result),
      `${(n.durationMs / 1000).toFixed(1)}s`,
      shortStorePath(n.outPath),
      errorCell(n),
    ]),
    (h) => c.dim(h),
    width,
  );
}

/** `4 nodes: 2 succeeded, 1 unchanged, 1 rolled back`. */
export function summarizeApply(report: ApplyReport, c: ChalkInstance, elapsedMs: number): string {
  const parts = NODE_RESULTS.flatMap((result) => {
    const count = report.nodes.filter((n) => n.result === result).length;
    return count === 0 ? [] : [resultColor(c, result)(`${count} ${result.replace("-", " ")}`)];
  });
  const total = report.nodes.length;
  return `${total} node${total === 1 ? "" : "s"} in ${(elapsedMs / 1000).toFixed(1)}s: ${parts.join(", ")}${report.interrupted ? c.yellow(" (interrupted)") : ""}`;
}

function errorCell(n: NodeOutcome): string {
  if (n.error === null) return "";
  const first = n.error.message.split("\n").find((l) => l.trim() !== "") ?? "";
  return `${n.error.code}: ${first}`;
}

/** `/nix/store/abcd...-nixos-system-web-1-2` -> `abcdefgh-nixos-system-web-1-2`. */
export function shortStorePath(path: string | null): string {
  if (path === null) return "-";
  const base = path.replace(/^\/nix\/store\//, "");
  return base.replace(/^([0-9a-z]{8})[0-9a-z]{24}/, "$1");
}
