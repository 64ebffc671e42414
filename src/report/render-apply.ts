// Renders deployment events: a live line per node on a TTY, plain `node | message` lines otherwise.
import { createLogUpdate } from "log-update";
import type { ChalkInstance } from "chalk";
import type { HiveEvent, Phase, Reporter } from "./events.js";
import type { NodeResult } from "./results.js";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function resultColor(c: ChalkInstance, result: NodeResult): (s: string) => string {
  switch (result) {
    case "succeeded":
      return c.green;
    case "unchanged":
      return c.dim;
    case "failed":
    case "rolled-back":
      return c.red;
    case "skipped":
      return c.yellow;
  }
}

interface PlainOptions {
  write: (line: string) => void;
  color: ChalkInstance;
  /** Stream Nix and activation output (-v). */
  verbose: boolean;
  nodeNames: string[];
}

/** One line per event, for CI logs and pipes. */
export function createPlainRenderer(options: PlainOptions): Reporter {
  const width = Math.max(0, ...options.nodeNames.map((n) => n.length));
  const c = options.color;
  const prefix = (node: string | undefined) => c.cyan((node ?? "*").padEnd(width)) + " | ";
  return {
    emit(event: HiveEvent) {
      switch (event.kind) {
        case "phase":
          options.write(`${prefix(event.node)}${event.phase}`);
          break;
        case "log":
          if (options.verbose) options.write(`${prefix(event.node)}${c.dim(event.line)}`);
          break;
        case "node-done":
          options.write(`${prefix(event.node)}${resultColor(c, event.result)(event.result)}${event.message ? `: ${event.message.split("\n")[0]}` : ""}`);
          break;
        case "warning":
          options.write(`${c.yellow("warning:")} ${event.message}`);
          break;
        case "interrupt":
          options.write(
            c.yellow(event.count === 1 ? "interrupted: starting nothing new; running activations finish (Ctrl-C again to stop waiting)" : "interrupted again: not waiting any longer"),
          );
          break;
      }
    },
  };
}

interface LiveOptions {
  stream: NodeJS.WritableStream;
  color: ChalkInstance;
  verbose: boolean;
  nodeNames: string[];
  now?: () => number;
}

/** A live line per node (phase, elapsed, spinner) and a total line, redrawn in place. */
export function createLiveRenderer(options: LiveOptions): Reporter & { stop(): void } {
  const now = options.now ?? Date.now;
  const started = now();
  const c = options.color;
  const width = Math.max(0, ...options.nodeNames.map((n) => n.length));
  const nodes = new Map<string, { phase: Phase | "waiting"; since: number; result?: NodeResult; message?: string; last?: string }>(
    options.nodeNames.map((n) => [n, { phase: "waiting", since: started }]),
  );
  const update = createLogUpdate(options.stream);
  let frame = 0;
  const draw = () => {
    frame += 1;
    const lines: string[] = [];
    let done = 0;
    for (const [name, state] of nodes) {
      const elapsed = `${((now() - state.since) / 1000).toFixed(1)}s`;
      if (state.result !== undefined) {
        done += 1;
        lines.push(`${c.cyan(name.padEnd(width))}  ${resultColor(c, state.result)(state.result)}${state.message ? c.dim(`  ${state.message.split("\n")[0]}`) : ""}`);
      } else {
        const detail = state.last ? c.dim(`  ${state.last.slice(0, 80)}`) : "";
        lines.push(`${c.cyan(name.padEnd(width))}  ${SPINNER[frame % SPINNER.length]} ${state.phase} ${c.dim(elapsed)}${detail}`);
      }
    }
    lines.push(c.bold(`${done}/${nodes.size} nodes done, ${((now() - started) / 1000).toFixed(1)}s`));
    update(lines.join("\n"));
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    emit(event: HiveEvent) {
      if (event.kind === "phase") {
        const state = nodes.get(event.node);
        if (state) Object.assign(state, { phase: event.phase, since: now(), last: undefined });
      } else if (event.kind === "log" && event.node !== undefined) {
        const state = nodes.get(event.node);
        if (state && event.line.trim() !== "") state.last = event.line.trim();
        if (options.verbose) {
          update.clear();
          options.stream.write(`${c.cyan((event.node ?? "*").padEnd(width))} | ${c.dim(event.line)}\n`);
        }
      } else if (event.kind === "node-done") {
        const state = nodes.get(event.node);
        if (state) Object.assign(state, { result: event.result, message: event.message });
      } else if (event.kind === "warning" || event.kind === "interrupt") {
        update.clear();
        options.stream.write(`${c.yellow(event.kind === "warning" ? `warning: ${event.message}` : "interrupted")}\n`);
      }
    },
    stop() {
      clearInterval(timer);
      draw();
      update.done();
    },
  };
}
