// Renders `hive vars generate | check | list`: result tables and the JSON documents; never a secret's content.
import type { ChalkInstance } from "chalk";
import type { VarResult } from "../vars/generate.js";
import type { InstanceStatus } from "../vars/status.js";
import { instanceLabel, varOutcomeColor } from "./format-event.js";
import { renderTable } from "./table.js";

export function renderGenerateTable(results: readonly VarResult[], c: ChalkInstance): string {
  return renderTable(
    ["GENERATOR", "NODE", "RESULT", "MESSAGE"],
    results.map((r) => [c.bold(r.generator), r.node ?? "(shared)", varOutcomeColor(c, r.outcome)(r.outcome), r.message ?? ""]),
    (h) => c.dim(h),
  );
}

/** A failed command's last lines of standard error, for stderr. */
export function renderGenerateDetails(results: readonly VarResult[], c: ChalkInstance): string[] {
  return results
    .filter((r) => r.outcome === "failed" && r.log.length > 0)
    .flatMap((r) => [`${c.red.bold(`${instanceLabel(r)} failed`)}; last lines of its standard error:`, ...r.log.map((line) => `  ${c.dim(line)}`)]);
}

export function checkJson(instances: readonly InstanceStatus[]): unknown {
  return {
    ok: instances.every((i) => i.state === "ok"),
    vars: instances.map(({ generator, node, state, reasons, files }) => ({ generator, node, state, reasons, files })),
  };
}

export function renderCheckTable(instances: readonly InstanceStatus[], c: ChalkInstance): string {
  return renderTable(
    ["GENERATOR", "NODE", "STATE", "WHY"],
    instances.map((i) => [c.bold(i.generator), i.node ?? "(shared)", stateColor(c, i.state)(i.state), i.reasons.join("; ")]),
    (h) => c.dim(h),
  );
}

export function listJson(instances: readonly InstanceStatus[]): unknown {
  return {
    vars: instances.map(({ generator, description, node, nodes, state, generatedAt, files }) => ({ generator, description: description ?? null, node, nodes, state, generatedAt, files })),
  };
}

/** One row per file: public files with their value (one line, shortened), secret ones as `secret`. */
export function renderListTable(instances: readonly InstanceStatus[], c: ChalkInstance): string {
  const rows = instances.flatMap((i) =>
    i.files.map((f, index) => [
      index === 0 ? c.bold(i.generator) : "",
      index === 0 ? (i.node ?? `(shared: ${i.nodes.join(", ") || "no node"})`) : "",
      f.name,
      f.secret ? "secret" : f.present ? shorten(f.value ?? "") : "",
      index === 0 ? stateColor(c, i.state)(i.state) : "",
    ]),
  );
  return renderTable(["GENERATOR", "NODE", "FILE", "VALUE", "STATE"], rows, (h) => c.dim(h));
}

function shorten(value: string): string {
  const line = value.replace(/\n$/, "").replace(/\n/g, "\\n");
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

function stateColor(c: ChalkInstance, state: InstanceStatus["state"]): (s: string) => string {
  return state === "ok" ? c.green : state === "missing" ? c.red : c.yellow;
}
