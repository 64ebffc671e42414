// Renders a run's events as it happens: a live line per node on a terminal, plain lines for CI
// logs and pipes, or one JSON object per line (--events) for agents.
import type { ChalkInstance } from "chalk";
import { createLogUpdate } from "log-update";
import type { HiveEvent, NodeResult, Phase, Reporter } from "../events.js";
import { type FormatStyle, formatEvent, interruptMessage, resultColor } from "./format-event.js";

export interface ProgressOptions {
  color: ChalkInstance;
  verbose: boolean;
  nodeNames: readonly string[];
}

/** One line per event, for CI logs and pipes. */
export function createPlainRenderer(write: (line: string) => void, options: ProgressOptions): Reporter {
  const style: FormatStyle = { color: options.color, verbose: options.verbose, nameWidth: Math.max(0, ...options.nodeNames.map((n) => n.length)) };
  return {
    emit(event) {
      const line = formatEvent(event, style);
      if (line !== null) write(line);
    },
  };
}

/** `--events`: every event as one JSON object on its own line, with the time it happened. */
export function createEventStream(write: (line: string) => void, now: () => number = Date.now): Reporter {
  return {
    emit(event) {
      const body = event.code === "exec.output" ? { ...event, chunk: undefined, text: event.chunk.toString("utf8") } : event;
      write(JSON.stringify({ time: new Date(now()).toISOString(), ...body }));
    },
  };
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

interface LiveNode {
  phase: Phase | "waiting";
  since: number;
  result?: NodeResult;
  message?: string;
  /** The last thing the node said in its current phase (a log line, or a check attempt). */
  last?: string;
}

/** A live line per node (phase, elapsed, what it last said) and a total line, redrawn in place. */
export function createLiveRenderer(stream: NodeJS.WritableStream & { columns?: number }, options: ProgressOptions, now: () => number = Date.now): Reporter & { stop(): void } {
  const started = now();
  const c = options.color;
  const width = Math.max(0, ...options.nodeNames.map((n) => n.length));
  const nodes = new Map<string, LiveNode>(options.nodeNames.map((n) => [n, { phase: "waiting", since: started }]));
  const update = createLogUpdate(stream);
  const style: FormatStyle = { color: c, verbose: options.verbose, nameWidth: width };
  let frame = 0;
  const fit = (line: string) => line.slice(0, Math.max(20, (stream.columns ?? 120) - width - 24));
  const draw = () => {
    frame += 1;
    const lines: string[] = [];
    const counts = new Map<NodeResult, number>();
    for (const [name, state] of nodes) {
      const elapsed = `${((now() - state.since) / 1000).toFixed(1)}s`;
      if (state.result !== undefined) {
        counts.set(state.result, (counts.get(state.result) ?? 0) + 1);
        lines.push(`${c.cyan(name.padEnd(width))}  ${resultColor(c, state.result)(state.result)}${state.message ? c.dim(`  ${fit(state.message)}`) : ""}`);
      } else {
        lines.push(`${c.cyan(name.padEnd(width))}  ${SPINNER[frame % SPINNER.length]} ${state.phase} ${c.dim(elapsed)}${state.last ? c.dim(`  ${fit(state.last)}`) : ""}`);
      }
    }
    const done = [...counts.values()].reduce((a, b) => a + b, 0);
    lines.push(c.bold(`${done}/${nodes.size} nodes done, ${((now() - started) / 1000).toFixed(1)}s`));
    update(lines.join("\n"));
  };
  const above = (line: string) => {
    update.clear();
    stream.write(`${line}\n`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    emit(event: HiveEvent) {
      switch (event.code) {
        case "node.phase": {
          const state = nodes.get(event.node);
          if (state) Object.assign(state, { phase: event.phase, since: now(), last: undefined });
          break;
        }
        case "node.log": {
          const state = event.node === null ? undefined : nodes.get(event.node);
          if (state && event.line.trim() !== "") state.last = event.line.trim();
          if (options.verbose) above(formatEvent(event, style)!);
          break;
        }
        case "node.check": {
          const state = nodes.get(event.node);
          if (state) state.last = `${event.check}: ${event.passed ? "passed" : `attempt ${event.attempt}: ${event.output.split("\n")[0] ?? ""}`}`;
          break;
        }
        case "node.done": {
          const state = nodes.get(event.node);
          if (state) Object.assign(state, { result: event.result, message: event.error?.message.split("\n")[0] });
          break;
        }
        case "run.interrupt":
          above(c.yellow(interruptMessage(event)));
          break;
        default: {
          const line = formatEvent(event, style);
          if (line !== null) above(line);
        }
      }
    },
    stop() {
      clearInterval(timer);
      draw();
      update.done();
    },
  };
}
