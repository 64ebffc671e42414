// Builds nodes' systems as their evaluations arrive: what is queued while a build runs goes into
// the next `nix-store --realise`, so Nix schedules the work (jobs, remote builders) across nodes.
import { existsSync } from "node:fs";
import type { ErrorSummary } from "../errors.js";
import type { ProcessRunner } from "./runner.js";
import { trimNixError } from "./nix-errors.js";

export interface BuildRequest {
  node: string;
  drvPath: string;
  outPath: string;
}

export type BuildOutcome = { node: string; ok: true } | { node: string; ok: false; error: ErrorSummary; log: string[] };

export interface BuildOptions {
  runner: ProcessRunner;
  maxJobs?: number;
  /** Nix machines file for remote builders (meta.machinesFile). */
  machinesFile?: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Nix's output lines, attributed to a node where the line names one of its derivations. */
  onLine?: (line: string, node: string | null) => void;
  /** Called once per realise process, with the nodes it builds. */
  onProcess?: (nodes: string[]) => void;
}

/** Lines of a failed derivation's own build log shown with the failure. */
const BUILD_LOG_TAIL = 25;

/**
 * `nix-store --realise --keep-going` of the given derivations: one failed node does not stop the
 * others. Nodes whose outputs are valid already (asked of the store, not the file system: a failed
 * build without a sandbox can leave a directory that is no valid path) are not built again.
 */
export async function buildSystems(requests: readonly BuildRequest[], options: BuildOptions): Promise<BuildOutcome[]> {
  const invalid = await invalidPaths(requests.map((r) => r.outPath), options);
  const needed = requests.filter((r) => invalid.has(r.outPath));
  if (needed.length === 0) return requests.map((r) => ({ node: r.node, ok: true }));
  const byDrv = new Map(needed.map((r) => [r.drvPath, r.node]));
  const args = ["--realise", "--keep-going", ...new Set(needed.map((r) => r.drvPath))];
  if (options.maxJobs !== undefined) args.push("--max-jobs", String(options.maxJobs));
  if (options.machinesFile !== undefined) args.push("--option", "builders", `@${options.machinesFile}`);
  const failedDrvs = new Map<string, string>();
  let current: string | undefined;
  options.onProcess?.(needed.map((r) => r.node));
  const result = await options.runner.run("nix-store", args, {
    env: options.env,
    signal: options.signal,
    onStderrLine: (line) => {
      const drv = /'(\/nix\/store\/[^']+\.drv)'/.exec(line)?.[1];
      if (drv !== undefined && byDrv.has(drv)) current = drv;
      const builder = /^error: builder for '(\/nix\/store\/[^']+\.drv)' failed with (.*?);?$/.exec(line);
      if (builder) failedDrvs.set(builder[1]!, builder[2]!);
      const node = drv !== undefined ? byDrv.get(drv) : current !== undefined ? byDrv.get(current) : undefined;
      // nix-store --realise warns about GC roots hive deliberately does not add (see --keep-result).
      if (!line.includes("you did not specify '--add-root'")) options.onLine?.(line, node ?? null);
    },
  });
  // The store is the truth: a node succeeded when its output is now a valid path.
  const stillInvalid = await invalidPaths(needed.map((r) => r.outPath), options);
  const outcomes = new Map<string, BuildOutcome>();
  for (const request of needed) {
    if (!stillInvalid.has(request.outPath)) {
      outcomes.set(request.node, { node: request.node, ok: true });
      continue;
    }
    outcomes.set(request.node, await describeBuildFailure(request, failedDrvs, result.stderr, result.exitCode, options));
  }
  return requests.map((r) => outcomes.get(r.node) ?? { node: r.node, ok: true });
}

/** Which of `paths` the store does not hold as valid paths: one process for all of them. */
async function invalidPaths(paths: readonly string[], options: BuildOptions): Promise<Set<string>> {
  // A path not even on disk is invalid: no process needed when none is.
  const present = paths.filter((p) => existsSync(p));
  const invalid = new Set(paths.filter((p) => !existsSync(p)));
  if (present.length === 0) return invalid;
  const result = await options.runner.run("nix-store", ["--check-validity", "--print-invalid", ...new Set(present)], { env: options.env, signal: options.signal });
  for (const line of result.stdout.split("\n")) if (line.startsWith("/")) invalid.add(line.trim());
  return invalid;
}

/** The derivation that failed among the node's dependencies, with its own log's tail. */
async function describeBuildFailure(
  request: BuildRequest,
  failedDrvs: ReadonlyMap<string, string>,
  stderr: string,
  exitCode: number,
  options: BuildOptions,
): Promise<BuildOutcome> {
  let culprits = [...failedDrvs.keys()].filter((drv) => drv === request.drvPath);
  if (culprits.length === 0 && failedDrvs.size > 0) {
    const requisites = await options.runner.run("nix-store", ["--query", "--requisites", request.drvPath], { env: options.env, signal: options.signal });
    const closure = new Set(requisites.stdout.split("\n"));
    culprits = [...failedDrvs.keys()].filter((drv) => closure.has(drv));
  }
  const culprit = culprits[0];
  if (culprit === undefined) {
    const error = trimNixError(stderr) || `nix-store --realise exited with ${exitCode}`;
    return { node: request.node, ok: false, error: { code: "E_BUILD", message: error.split("\n")[0]! }, log: error.split("\n") };
  }
  const logged = await options.runner.run("nix-store", ["--read-log", culprit], { env: options.env, signal: options.signal });
  const log = logged.exitCode === 0 ? logged.stdout.split("\n").filter((l) => l.trim() !== "").slice(-BUILD_LOG_TAIL) : [];
  const more = culprits.length > 1 ? ` (and ${culprits.length - 1} more)` : "";
  // The cause is the failing builder's own words: its last line that says error, else its last line.
  const cause = log.filter((l) => /error|fail|unknown|not found/i.test(l)).at(-1) ?? log.at(-1);
  return {
    node: request.node,
    ok: false,
    error: { code: "E_BUILD", message: `${culprit} failed to build (${failedDrvs.get(culprit)})${cause ? `: ${cause.trim()}` : ""}${more}` },
    log: [`build log of ${culprit}:`, ...log],
  };
}

/**
 * Builds as requests arrive: while one realise runs, new requests wait and then go together into
 * the next, at most `concurrency` realises at once (Nix locks shared outputs between them).
 */
export class BuildQueue {
  private pending: { request: BuildRequest; resolve: (outcome: BuildOutcome) => void; reject: (error: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly options: BuildOptions,
    private readonly concurrency = 2,
  ) {}

  build(request: BuildRequest): Promise<BuildOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running >= this.concurrency || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.running += 1;
    buildSystems(
      batch.map((b) => b.request),
      this.options,
    )
      .then(
        (outcomes) => batch.forEach((b, i) => b.resolve(outcomes[i]!)),
        (error: unknown) => batch.forEach((b) => b.reject(error)),
      )
      .finally(() => {
        this.running -= 1;
        this.pump();
      });
  }
}
