// What evaluating a NixOS-shaped flake costs Nix by itself: the flake alone, one node, several nodes in one
// process (do they share work?), and one node with a small initial GC heap; CPU, peak RSS and Boehm GC figures.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./stats.js";

export interface EvalCost {
  label: string;
  nodes: number;
  wallMs: number;
  /** User + system time of the nix process. */
  cpuMs: number;
  peakRssBytes: number;
  /** Boehm GC heap at exit and bytes allocated over the run (NIX_SHOW_STATS), when Nix printed them. */
  gcHeapBytes?: number;
  gcAllocatedBytes?: number;
}

export const GNU_TIME = "/usr/bin/time";

/** One nix command under GNU time, with NIX_SHOW_STATS; throws with Nix's message when it fails. */
function measureOnce(args: string[], env: NodeJS.ProcessEnv): Omit<EvalCost, "label" | "nodes"> {
  const scratch = mkdtempSync(join(tmpdir(), "hive-eval-cost-"));
  try {
    const out = join(scratch, "time");
    const run = spawnSync(GNU_TIME, ["-f", "%e %U %S %M", "-o", out, "nix", ...args], {
      env: { ...env, NIX_SHOW_STATS: "1" },
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    if (run.error) throw run.error;
    if (run.status !== 0) throw new Error(`nix ${args.join(" ")} exited with ${run.status}:\n${run.stderr.trim().split("\n").slice(-15).join("\n")}`);
    const [wall = 0, user = 0, system = 0, rssKiB = 0] = readFileSync(out, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
    let gc: { heapSize?: number; totalBytes?: number } = {};
    const stats = run.stderr.indexOf("{");
    try {
      gc = (JSON.parse(run.stderr.slice(stats)) as { gc?: typeof gc }).gc ?? {};
    } catch {
      // Older or newer Nix may print the statistics differently; the times above still stand.
    }
    return { wallMs: wall * 1000, cpuMs: (user + system) * 1000, peakRssBytes: rssKiB * 1024, gcHeapBytes: gc.heapSize, gcAllocatedBytes: gc.totalBytes };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function measure(label: string, nodes: number, args: string[], env: NodeJS.ProcessEnv, repeat = 1): EvalCost {
  const runs = Array.from({ length: repeat }, () => measureOnce(args, env));
  const pick = runs.sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(runs.length / 2)]!;
  return { label, nodes, ...pick, cpuMs: median(runs.map((r) => r.cpuMs)) };
}

const EXPERIMENTAL = ["--extra-experimental-features", "nix-command flakes"];

function drvPathsOf(flake: string, nodes: readonly string[]): string[] {
  const selected = nodes.map((n) => `${JSON.stringify(n)} = null;`).join(" ");
  return ["eval", ...EXPERIMENTAL, "--json", `${flake}#nixosConfigurations`, "--apply", `cs: builtins.mapAttrs (n: c: c.config.system.build.toplevel.drvPath) (builtins.intersectAttrs { ${selected} } cs)`];
}

/**
 * Run after the nodes' .drv files exist (a first evaluation also writes them). `flake` is what a user passes
 * (a directory in a git work tree is read as git+file). Costs about (3 + 1 + 10 + N + 10) node evaluations.
 */
export function measureEvalCost(flake: string, nodes: readonly string[], env: NodeJS.ProcessEnv): EvalCost[] {
  const first = nodes[0];
  if (first === undefined) throw new Error("no nodes to evaluate");
  const one = ["eval", ...EXPERIMENTAL, "--raw", `${flake}#nixosConfigurations.${first}.config.system.build.toplevel.drvPath`];
  const costs = [
    measure("the flake alone (fetch, lock, list nodes)", 0, ["eval", ...EXPERIMENTAL, "--json", `${flake}#nixosConfigurations`, "--apply", "builtins.attrNames"], env),
    measure("1 node (median of 3)", 1, one, env, 3),
    measure("1 node, GC_INITIAL_HEAP_SIZE=32 MiB", 1, one, { ...env, GC_INITIAL_HEAP_SIZE: String(32 << 20) }),
  ];
  for (const count of [...new Set([Math.min(10, nodes.length), nodes.length])].filter((n) => n > 1)) {
    costs.push(measure(`${count} nodes in one \`nix eval\``, count, drvPathsOf(flake, nodes.slice(0, count)), env));
  }
  // What hive's evaluators do (src/nix/eval.ts): a heap as large as their budget share, so Nix seldom collects.
  const few = Math.min(10, nodes.length);
  if (few > 1) costs.push(measure(`${few} nodes, GC_INITIAL_HEAP_SIZE=4 GiB (no collection)`, few, drvPathsOf(flake, nodes.slice(0, few)), { ...env, GC_INITIAL_HEAP_SIZE: String(4 * 2 ** 30) }));
  return costs;
}
