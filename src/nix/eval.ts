// Evaluates nodes' systems to derivation and output paths, many nodes per `nix eval` process.
import type { ProcessRunner } from "./runner.js";
import { nixArgs } from "./nix-cli.js";
import { nixSelect, nixString, parseAttrPath } from "./attr-path.js";

export interface EvalRequest {
  node: string;
  /** Attribute path of the system in the flake. */
  attribute: string;
}

export type EvalOutcome =
  | { node: string; ok: true; drvPath: string; outPath: string }
  | { node: string; ok: false; error: string };

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

/** Nix's error without the noise: drop warnings and blank lines, keep at most 20 lines. */
export function trimNixError(stderr: string, maxLines = 20): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trimEnd())
    // Drop warnings, and the excerpt of hive's own generated expression that Nix quotes.
    .filter((l) => l !== "" && !/^warning: (Git tree .* is dirty|unknown setting)/.test(l))
    .filter((l) => !/^\s+at «string»/.test(l) && !/^\s+\d*\|/.test(l));
  const start = lines.findIndex((l) => l.startsWith("error"));
  const relevant = start === -1 ? lines : lines.slice(start);
  return relevant.slice(0, maxLines).join("\n");
}
