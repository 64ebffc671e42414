// Gathers nodes whose command produced the same result (like dshbak -c), and folds node names into ranges.
import type { ExecNodeResult } from "./exec.js";

export interface ExecGroup {
  /** In hive.ts order. */
  nodes: string[];
  /** The first node's result; every node in the group has the same output, exit and failure. */
  sample: ExecNodeResult;
  /** What they share, for the header: `exit 3`, `unreachable: connection refused`, or "" for exit 0. */
  status: string;
}

/** Nodes with identical stdout, stderr, exit code (or signal) and failure, groups in order of their first node. */
export function groupExecResults(results: readonly ExecNodeResult[]): ExecGroup[] {
  const groups = new Map<string, ExecGroup>();
  for (const result of results) {
    const status = describeStatus(result);
    const key = JSON.stringify([result.outcome, result.exitCode, result.signal, status, result.stdout, result.stderr]);
    const group = groups.get(key);
    if (group) group.nodes.push(result.name);
    else groups.set(key, { nodes: [result.name], sample: result, status });
  }
  return [...groups.values()];
}

/** `exit 3`, `timed out after 2s; ...`, `unreachable: cannot connect: ...`; "" for exit 0. */
export function describeStatus(result: Pick<ExecNodeResult, "outcome" | "error" | "exitCode">): string {
  switch (result.outcome) {
    case "exited":
      if (result.error) return stripEndpoint(result.error.message);
      return result.exitCode === 0 ? "" : `exit ${result.exitCode}`;
    case "unreachable":
      return `unreachable: ${stripEndpoint(result.error?.message ?? "")}`;
    case "disconnected":
      return `connection lost: ${stripEndpoint(result.error?.message ?? "")}`;
    case "timed-out":
    case "interrupted":
    case "skipped":
      return result.error?.message ?? result.outcome;
  }
}

/** SSH errors start with `node (host:port): `; the node is named elsewhere, and the rest is what nodes share. */
function stripEndpoint(message: string): string {
  return message.replace(/^\S+ \((?:jump host )?[^()\s]+:\d+\): /, "");
}

/** `web-1, web-2, web-3, db-7` -> `web-[1-3], db-7`: runs of names that differ only in their last number. */
export function foldNodeNames(names: readonly string[]): string {
  const folds = new Map<string, { prefix: string; suffix: string; numbers: number[] } | { name: string }>();
  for (const name of names) {
    const match = /^(.*?)(0|[1-9][0-9]{0,8})(\D*)$/.exec(name);
    if (!match) {
      folds.set(`=${name}`, { name });
      continue;
    }
    const [, prefix = "", digits = "", suffix = ""] = match;
    const key = `#${prefix}\u0000${suffix}`;
    const fold = folds.get(key);
    if (fold && "numbers" in fold) fold.numbers.push(Number(digits));
    else folds.set(key, { prefix, suffix, numbers: [Number(digits)] });
  }
  return [...folds.values()]
    .map((fold) => {
      if ("name" in fold) return fold.name;
      if (fold.numbers.length === 1) return `${fold.prefix}${fold.numbers[0]}${fold.suffix}`;
      return `${fold.prefix}[${foldRanges(fold.numbers)}]${fold.suffix}`;
    })
    .join(", ");
}

/** [1, 2, 3, 5, 7, 8] -> `1-3,5,7-8`. */
function foldRanges(numbers: readonly number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const ranges: string[] = [];
  let start = sorted[0]!;
  let previous = start;
  for (const n of [...sorted.slice(1), Number.NaN]) {
    if (n === previous + 1) {
      previous = n;
      continue;
    }
    ranges.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = n;
    previous = n;
  }
  return ranges.join(",");
}
