// Builds every selected system in one Nix invocation, so Nix schedules the work (jobs, remote builders).
import { existsSync } from "node:fs";
import type { ProcessRunner } from "./runner.js";
import { trimNixError } from "./eval.js";

export interface BuildRequest {
  node: string;
  drvPath: string;
  outPath: string;
}

export type BuildOutcome = { node: string; ok: true } | { node: string; ok: false; error: string };

export interface BuildOptions {
  runner: ProcessRunner;
  maxJobs?: number;
  /** Nix machines file for remote builders (meta.machinesFile). */
  machinesFile?: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Nix's output lines, attributed to a node where the line names one of its derivations. */
  onLine?: (line: string, node: string | undefined) => void;
  onProcess?: (nodes: string[]) => void;
}

/** `nix-store --realise --keep-going` of all derivations: one failed node does not stop the others. */
export async function buildSystems(requests: readonly BuildRequest[], options: BuildOptions): Promise<BuildOutcome[]> {
  if (requests.length === 0) return [];
  const byDrv = new Map(requests.map((r) => [r.drvPath, r.node]));
  const args = ["--realise", "--keep-going", ...new Set(requests.map((r) => r.drvPath))];
  if (options.maxJobs !== undefined) args.push("--max-jobs", String(options.maxJobs));
  if (options.machinesFile !== undefined) args.push("--option", "builders", `@${options.machinesFile}`);
  const failedDrvs = new Map<string, string[]>();
  let current: string | undefined;
  options.onProcess?.(requests.map((r) => r.node));
  const result = await options.runner.run("nix-store", args, {
    env: options.env,
    signal: options.signal,
    onStderrLine: (line) => {
      const drv = /'(\/nix\/store\/[^']+\.drv)'/.exec(line)?.[1];
      if (drv !== undefined && byDrv.has(drv)) current = drv;
      const node = drv !== undefined ? byDrv.get(drv) : current !== undefined ? byDrv.get(current) : undefined;
      if (drv !== undefined && /^error: (builder for|build of|.*failed)/.test(line)) {
        failedDrvs.set(drv, [...(failedDrvs.get(drv) ?? []), line]);
      }
      // nix-store --realise warns about GC roots hive deliberately does not add (see --keep-result).
      if (!line.includes("you did not specify '--add-root'")) options.onLine?.(line, node);
    },
  });
  // The outputs themselves are the truth: a node succeeded when its output path now exists.
  return requests.map((request) => {
    if (existsSync(request.outPath)) return { node: request.node, ok: true };
    const own = failedDrvs.get(request.drvPath);
    const error = own?.join("\n") ?? (trimNixError(result.stderr) || `nix-store --realise exited with ${result.exitCode}`);
    return { node: request.node, ok: false, error };
  });
}
