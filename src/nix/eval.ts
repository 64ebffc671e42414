// Evaluates nodes' systems to derivation and output paths, many nodes per `nix eval` process.
import type { ErrorSummary } from "../errors.js";
import type { ProcessRunner } from "./runner.js";
import { nixArgs } from "./nix-cli.js";
import { nixSelect, nixString, parseAttrPath } from "./attr-path.js";
import { trimNixError } from "./nix-errors.js";

export interface EvalRequest {
  node: string;
  /** Attribute path of the system in the flake. */
  attribute: string;
}

export type EvalOutcome =
  | { node: string; ok: true; drvPath: string; outPath: string }
  | { node: string; ok: false; error: string };

/** How nodes are evaluated: how many evaluators at once, within which memory, with or without the cache. */
export interface EvalSettings {
  workers: number;
  /** Budget of all evaluator processes together, in bytes. */
  memoryBytes: number;
  cache: boolean;
  showTrace: boolean;
}

/** One node's evaluation, as the rest of a deploy receives it. */
export type EvaluatedNode =
  | { node: string; ok: true; drvPath: string; outPath: string; cached: boolean }
  | { node: string; ok: false; error: ErrorSummary; log: string[] };

export interface EvaluateNodesOptions {
  runner: ProcessRunner;
  flake: string;
  settings: EvalSettings;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Each node's evaluation as soon as it is known. */
  onEvaluated: (outcome: EvaluatedNode) => void;
  onWarning?: (nodes: string[], message: string) => void;
  onProcess?: (nodes: string[]) => void;
}

export interface EvalStats {
  cached: number;
  evaluated: number;
  processes: number;
  peakRssBytes: number | null;
}

/** Evaluate `requests` (in the order given: deployment order), reporting each node as it is known. */
export async function evaluateNodes(requests: readonly EvalRequest[], options: EvaluateNodesOptions): Promise<EvalStats> {
  let processes = 0;
  const outcomes = await evaluateSystems(requests, {
    runner: options.runner,
    flake: options.flake,
    chunkSize: DEFAULT_EVAL_NODE_LIMIT,
    showTrace: options.settings.showTrace,
    env: options.env,
    signal: options.signal,
    onProcess: (nodes) => {
      processes += 1;
      options.onProcess?.(nodes);
    },
  });
  for (const o of outcomes) {
    options.onEvaluated(o.ok ? { ...o, cached: false } : { node: o.node, ok: false, error: { code: "E_EVAL", message: o.error.split("\n")[0]! }, log: o.error.split("\n") });
  }
  return { cached: 0, evaluated: outcomes.length, processes, peakRssBytes: null };
}

export interface EvalOptions {
  runner: ProcessRunner;
  /** Absolute path or flake reference. */
  flake: string;
  /** Nodes per nix process. */
  chunkSize: number;
  showTrace?: boolean;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Called once per nix process, for progress and for tests that count processes. */
  onProcess?: (nodes: string[]) => void;
}

/** The default chunk: one NixOS evaluation takes a few hundred MB, shared nixpkgs makes more sublinear. */
export const DEFAULT_EVAL_NODE_LIMIT = 10;

/**
 * Evaluate every request. Each chunk is one `nix eval`; a node whose evaluation throws is caught
 * inside the chunk (tryEval) and evaluated alone for its message; an uncatchable error splits the chunk.
 */
export async function evaluateSystems(requests: readonly EvalRequest[], options: EvalOptions): Promise<EvalOutcome[]> {
  const outcomes = new Map<string, EvalOutcome>();
  const chunks: EvalRequest[][] = [];
  for (let i = 0; i < requests.length; i += options.chunkSize) chunks.push(requests.slice(i, i + options.chunkSize));
  for (const chunk of chunks) {
    for (const outcome of await evaluateChunk(chunk, options)) outcomes.set(outcome.node, outcome);
  }
  return requests.map((r) => outcomes.get(r.node)!);
}

async function evaluateChunk(chunk: EvalRequest[], options: EvalOptions): Promise<EvalOutcome[]> {
  const single = chunk.length === 1;
  const result = await runEval(chunk, options, !single);
  if (result.ok) {
    const outcomes: EvalOutcome[] = [];
    const retry: EvalRequest[] = [];
    for (const request of chunk) {
      const value = result.values[request.node];
      if (value && value.ok) outcomes.push({ node: request.node, ok: true, drvPath: value.drv, outPath: value.out });
      else retry.push(request);
    }
    // tryEval hides the message; a node that failed is evaluated alone to get it.
    for (const request of retry) outcomes.push(...(await evaluateChunk([request], options)));
    return outcomes;
  }
  if (single) return [{ node: chunk[0]!.node, ok: false, error: result.error }];
  const half = Math.ceil(chunk.length / 2);
  return [...(await evaluateChunk(chunk.slice(0, half), options)), ...(await evaluateChunk(chunk.slice(half), options))];
}

type EvalValues = Record<string, { ok: true; drv: string; out: string } | { ok: false }>;

async function runEval(
  chunk: EvalRequest[],
  options: EvalOptions,
  catchErrors: boolean,
): Promise<{ ok: true; values: EvalValues } | { ok: false; error: string }> {
  options.onProcess?.(chunk.map((r) => r.node));
  const expression = buildExpression(chunk, options.flake, catchErrors);
  const args = nixArgs("eval", "--impure", "--json", "--expr", expression);
  if (options.showTrace) args.push("--show-trace");
  const result = await options.runner.run("nix", args, { env: options.env, signal: options.signal });
  if (result.exitCode !== 0) return { ok: false, error: trimNixError(result.stderr) };
  try {
    return { ok: true, values: JSON.parse(result.stdout) as EvalValues };
  } catch {
    return { ok: false, error: `nix eval printed no JSON: ${result.stdout.slice(0, 200)}` };
  }
}

export function buildExpression(chunk: readonly EvalRequest[], flake: string, catchErrors: boolean): string {
  const entries = chunk.map((request) => {
    // `or` turns a missing attribute into a throw, which tryEval can catch (a missing attribute is not).
    const missing = `throw ${nixString(`flake ${flake} has no attribute ${request.attribute}`)}`;
    const system = `(flake${nixSelect(parseAttrPath(request.attribute))} or (${missing}))`;
    const value = `{ ok = true; drv = ${system}.drvPath; out = ${system}.outPath; }`;
    const guarded = catchErrors
      ? `(let r = builtins.tryEval (builtins.deepSeq ${value} ${value}); in if r.success then r.value else { ok = false; })`
      : value;
    return `${nixString(request.node)} = ${guarded};`;
  });
  return `let flake = builtins.getFlake ${nixString(flake)}; in { ${entries.join(" ")} }`;
}
