// Renders `hive exec`: `node | line` as output arrives, groups of identical results, and a summary line.
import type { ChalkInstance } from "chalk";
import type { HiveEvent } from "../events.js";
import type { ExecNodeResult, ExecReport } from "../fleet/exec.js";
import { type ExecGroup, describeStatus, foldNodeNames, groupExecResults } from "../fleet/group.js";
import { LineSplitter } from "../util/line-splitter.js";

/** Marks after the node name: stdout lines, stderr lines. */
export const STDOUT_MARK = "|";
export const STDERR_MARK = "!";

type Paint = (s: string) => string;

/** A colour per node, by position, so neighbours differ; never red, which means failure. */
function nodePalette(c: ChalkInstance): Paint[] {
  return [c.cyan, c.magenta, c.blue, c.yellow, c.green, c.cyanBright, c.magentaBright, c.blueBright, c.yellowBright, c.greenBright];
}

export interface StreamRendererOptions {
  /** Lines of the nodes' stdout. */
  out: (line: string) => void;
  /** Lines of the nodes' stderr, and failures. */
  err: (line: string) => void;
  color: ChalkInstance;
  errColor: ChalkInstance;
  nodeNames: readonly string[];
}

/**
 * Whole lines as they arrive, each prefixed with its node's name, padded so the lines align:
 * `web-1 | text` for stdout (on stdout), `web-1 ! text` for stderr (on stderr). A node's last
 * partial line is printed when it finishes; a line longer than MAX_LINE_CHARS is cut with a
 * marker; a failure is reported on stderr as it happens.
 */
export function createExecStreamRenderer(options: StreamRendererOptions): { onEvent: (event: HiveEvent) => void } {
  const width = Math.max(0, ...options.nodeNames.map((n) => n.length));
  const outPalette = nodePalette(options.color);
  const errPalette = nodePalette(options.errColor);
  const index = new Map(options.nodeNames.map((name, i) => [name, i]));
  // Per node and stream: the unfinished line (bounded; see LineSplitter).
  type Pending = Record<"stdout" | "stderr", LineSplitter>;
  const pending = new Map<string, Pending>();
  const pendingOf = (node: string): Pending => {
    let p = pending.get(node);
    if (!p) {
      p = { stdout: new LineSplitter((line) => write(node, "stdout", line)), stderr: new LineSplitter((line) => write(node, "stderr", line)) };
      pending.set(node, p);
    }
    return p;
  };
  const prefix = (node: string, stream: "stdout" | "stderr") => {
    const i = index.get(node) ?? 0;
    const paint = (stream === "stdout" ? outPalette : errPalette)[i % outPalette.length]!;
    const mark = stream === "stdout" ? STDOUT_MARK : options.errColor.red(STDERR_MARK);
    return `${paint(node.padEnd(width))} ${mark} `;
  };
  const write = (node: string, stream: "stdout" | "stderr", line: string) => {
    (stream === "stdout" ? options.out : options.err)(`${prefix(node, stream)}${line}`);
  };
  return {
    onEvent(event) {
      switch (event.code) {
        case "exec.started":
          pendingOf(event.node);
          break;
        case "exec.output":
          pendingOf(event.node)[event.stream].push(event.chunk);
          break;
        case "exec.finished": {
          const streams = pending.get(event.node);
          pending.delete(event.node);
          streams?.stdout.end();
          streams?.stderr.end();
          const status = describeStatus(event);
          if (status !== "") options.err(`${prefix(event.node, "stderr")}${options.errColor.red(`[${status}]`)}`);
          break;
        }
      }
    },
  };
}

/** Each group once: a header naming its nodes and their count (and what failed), then the output. */
export function renderExecGroups(results: readonly ExecNodeResult[], c: ChalkInstance): string {
  return groupExecResults(results).map((group) => renderGroup(group, c)).join("\n");
}

function renderGroup(group: ExecGroup, c: ChalkInstance): string {
  const header = `${foldNodeNames(group.nodes)} (${group.nodes.length})${group.status === "" ? "" : `: ${group.status}`}`;
  const rule = "-".repeat(Math.min(78, Math.max(16, header.length)));
  const paint = group.sample.result === "succeeded" ? c.cyan : c.red;
  const lines = [c.dim(rule), paint(header), c.dim(rule)];
  const body = (text: string, mark: (line: string) => string) => {
    if (text === "") return;
    for (const line of text.replace(/\n$/, "").split("\n")) lines.push(mark(line));
  };
  body(group.sample.stdout, (line) => line);
  body(group.sample.stderr, (line) => `${c.red(STDERR_MARK)} ${line}`);
  return lines.join("\n");
}

/** `6 nodes in 1.2s: 3 exit 0, 1 exit non-zero (t2), 1 unreachable (t3), 1 timed out (t4)`. */
export function summarizeExec(report: ExecReport, elapsedMs: number, c: ChalkInstance): string {
  const categories: [label: string, paint: Paint, test: (r: ExecNodeResult) => boolean, named: boolean][] = [
    ["exit 0", c.green, (r) => r.result === "succeeded", false],
    ["exit non-zero", c.red, (r) => r.outcome === "exited" && r.result === "failed", true],
    ["unreachable", c.red, (r) => r.outcome === "unreachable", true],
    ["timed out", c.red, (r) => r.outcome === "timed-out", true],
    ["connection lost", c.red, (r) => r.outcome === "disconnected", true],
    ["interrupted", c.yellow, (r) => r.outcome === "interrupted", true],
    ["not started", c.yellow, (r) => r.outcome === "skipped", true],
  ];
  const parts: string[] = [];
  for (const [label, paint, test, named] of categories) {
    const names = report.nodes.filter(test).map((r) => r.name);
    if (names.length === 0) continue;
    const list = named ? ` (${shorten(foldNodeNames(names), 120)})` : "";
    parts.push(paint(`${names.length} ${label}`) + list);
  }
  const total = report.nodes.length;
  return `${total} node${total === 1 ? "" : "s"} in ${(elapsedMs / 1000).toFixed(1)}s: ${parts.join(", ")}`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
