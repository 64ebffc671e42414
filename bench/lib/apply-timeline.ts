// Where a `hive apply` run spends its time, read from its plain progress lines (`node | phase`) stamped on arrival.
import type { TimedLine } from "./process.js";
import { median } from "./stats.js";

const PHASES = ["eval", "build", "connect", "push", "activate", "verify"] as const;
type Phase = (typeof PHASES)[number];
const RESULTS = new Set(["succeeded", "unchanged", "failed", "rolled-back", "skipped"]);

/** Spans of one run in milliseconds; NaN where the run did not get there. */
export interface ApplyTimeline {
  /** Spawn to the first progress line: Node.js start, loading hive.ts, planning. */
  startup: number;
  /** First `eval` to first `build`: evaluating every node's system. */
  evaluate: number;
  /** First `build` to first `connect`: realising the systems (and reading the flake's revision). */
  build: number;
  /** First `connect` to the last node's result: probing, pushing and activating all nodes. */
  deploy: number;
  /** Last node's result to exit: closing connections, printing the report. */
  finish: number;
  /** Per node, median over nodes: each step of the deploy part (connect: connection, lock and probe, up to the push). */
  perNode: { connect: number; copy: number; activate: number; verify: number };
}

interface NodeMarks extends Partial<Record<Phase, number>> {
  done?: number;
}

export function readApplyTimeline(lines: readonly TimedLine[], totalMs: number): ApplyTimeline {
  const marks = new Map<string, NodeMarks>();
  const first: Partial<Record<Phase, number>> = {};
  let lastDone = Number.NaN;
  for (const { ms, text } of lines) {
    const match = /^(\S+)\s*\| (\S+)/.exec(text);
    if (!match) continue;
    const [, node = "", word = ""] = match;
    const mark = marks.get(node) ?? {};
    marks.set(node, mark);
    if ((PHASES as readonly string[]).includes(word)) {
      const phase = word as Phase;
      mark[phase] ??= ms;
      first[phase] ??= ms;
    } else if (RESULTS.has(word.replace(/:$/, ""))) {
      mark.done = ms;
      lastDone = Number.isNaN(lastDone) ? ms : Math.max(lastDone, ms);
    }
  }
  const span = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? Number.NaN : to - from);
  const perNode = (from: Phase, to: (m: NodeMarks) => number | undefined) => {
    const spans = [...marks.values()].map((m) => span(m[from], to(m))).filter((s) => !Number.isNaN(s));
    return spans.length === 0 ? Number.NaN : median(spans);
  };
  return {
    startup: first.eval ?? Number.NaN,
    evaluate: span(first.eval, first.build),
    build: span(first.build, first.connect),
    deploy: span(first.connect, Number.isNaN(lastDone) ? undefined : lastDone),
    finish: Number.isNaN(lastDone) ? Number.NaN : totalMs - lastDone,
    perNode: {
      connect: perNode("connect", (m) => m.push ?? m.done),
      copy: perNode("push", (m) => m.activate),
      activate: perNode("activate", (m) => m.verify),
      verify: perNode("verify", (m) => m.done),
    },
  };
}

/** The median of each span over several runs. */
export function medianTimeline(timelines: readonly ApplyTimeline[]): ApplyTimeline {
  const mid = (pick: (t: ApplyTimeline) => number) => {
    const values = timelines.map(pick).filter((v) => !Number.isNaN(v));
    return values.length === 0 ? Number.NaN : median(values);
  };
  return {
    startup: mid((t) => t.startup),
    evaluate: mid((t) => t.evaluate),
    build: mid((t) => t.build),
    deploy: mid((t) => t.deploy),
    finish: mid((t) => t.finish),
    perNode: {
      connect: mid((t) => t.perNode.connect),
      copy: mid((t) => t.perNode.copy),
      activate: mid((t) => t.perNode.activate),
      verify: mid((t) => t.perNode.verify),
    },
  };
}
