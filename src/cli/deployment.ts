// What apply, build and rollback share once planned: run the plan in a runtime (progress, Ctrl-C,
// SSH), then print the report as a table, JSON or a final event, and pick the exit code.
import type { Hive } from "../config/normalize.js";
import type { ApplyReport } from "../deploy/outcomes.js";
import { EXIT_CODES, type ExitCode } from "../errors.js";
import { isFailure } from "../events.js";
import type { RunContext } from "../run-context.js";
import { type CommandContext, tableWidth } from "./context.js";
import { createRuntime } from "./runtime.js";

export interface OutputOptions {
  json?: boolean;
  events?: boolean;
  acceptNewHostKeys?: boolean;
}

export async function runDeployment(
  cli: CommandContext,
  hive: Hive,
  nodeNames: readonly string[],
  options: OutputOptions,
  execute: (context: RunContext) => Promise<ApplyReport>,
): Promise<ExitCode> {
  const { applyReportJson, renderApplyDetails, renderApplyTable, summarizeApply } = await import("../report/render-apply.js");
  const runtime = createRuntime(cli, hive, { ...options, nodeNames, interrupt: "stop-new-work" });
  const started = Date.now();
  let outcome: ApplyReport | "stopped";
  try {
    outcome = await Promise.race([execute(runtime.context), runtime.stopped]);
  } finally {
    await runtime.close();
  }
  if (outcome === "stopped") return EXIT_CODES.interrupted;
  const { terminal } = cli;
  if (options.events) runtime.context.reporter.emit({ code: "run.result", report: applyReportJson(outcome) });
  else if (options.json) terminal.out(JSON.stringify(applyReportJson(outcome), null, 2));
  else {
    for (const line of renderApplyDetails(outcome, terminal.errColor)) terminal.err(line);
    terminal.out(renderApplyTable(outcome, terminal.color, tableWidth(cli)));
    terminal.err(summarizeApply(outcome, terminal.errColor, Date.now() - started));
  }
  if (outcome.interrupted) return EXIT_CODES.interrupted;
  return outcome.nodes.some((n) => isFailure(n.result)) ? EXIT_CODES.failed : EXIT_CODES.success;
}

/** This machine's CPUs and available memory, for sizing evaluation. */
export async function machineInfo(): Promise<{ cpus: number; memAvailableBytes: number }> {
  const { availableParallelism, freemem } = await import("node:os");
  const { readFile } = await import("node:fs/promises");
  let memAvailableBytes = freemem();
  try {
    const kib = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile("/proc/meminfo", "utf8"))?.[1];
    if (kib !== undefined) memAvailableBytes = Number(kib) * 1024;
  } catch {
    // Not Linux: free memory is the best guess.
  }
  return { cpus: availableParallelism(), memAvailableBytes };
}
