// The Real fleet section of docs/benchmarks.md: the fleet, what evaluation costs Nix, the deploys, the targets.
import type { EvalCost } from "./eval-cost.js";
import type { EvaluatorMemory } from "./evaluator-memory.js";
import type { NixosFleet } from "./nixos-fleet.js";
import { type MachineInfo, renderMachineInfo } from "./report.js";
import { formatDuration, median } from "./stats.js";

export type Tool = "hive" | "hive-budget" | "hive-reapply" | "colmena" | "loop";

export interface RunSample {
  tool: Tool;
  round: number;
  ms: number;
  /** hive: evaluate, build, deploy (from its progress lines); colmena: evaluate, build, deploy; loop: build, copy, activate. */
  phases: Record<string, number>;
  memory: EvaluatorMemory;
  /** Share of the machine's CPU time in use during the run. */
  cpu: number;
  /** CPU time of the deployer's side: the tool and every process it started. */
  ownCpuMs: number;
  error?: string;
}

export interface FleetFacts extends NixosFleet {
  /** Derivations one node's toplevel depends on (its build closure). */
  derivationsPerNode: number;
  closurePaths: number;
  closureBytes: number;
}

export interface RealFleetInput {
  info: MachineInfo;
  nix: string;
  backgroundCpu: number;
  facts: FleetFacts;
  evalCost: EvalCost[];
  samples: RunSample[];
  /** The tight budget of the "hive-budget" runs (`--eval-memory`). */
  evalMemory: string;
  hiveHasEvalMemory: boolean;
  /** What hive chose by itself (its plan): evaluators and budget; null if it did not say. */
  hiveDefaults: { workers: number; memoryBytes: number } | null;
  hiveArgs: string[];
  labSubnet: string;
}

const CHANGED_TARGET = 0.65;
/** Above this CPU busy share before the run, the section says the machine was busy. */
export const QUIET_CPU = 0.15;
const REAPPLY_TARGET_MS = 2000;

/** "2G", "2GiB", "1536M", "512MB" (binary units) or a plain byte count; null when unreadable. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!match) return null;
  const power = ["", "K", "M", "G", "T"].indexOf(match[2]!.toUpperCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}

const mib = (bytes: number) => (Number.isNaN(bytes) ? "–" : `${Math.round(bytes / 2 ** 20)} MiB`);
const percent = (share: number) => (Number.isNaN(share) ? "–" : `${Math.round(share * 100)}%`);
const seconds = (ms: number) => (Number.isNaN(ms) ? "–" : (ms / 1000).toFixed(2));

function mid(values: number[]): number {
  const known = values.filter((v) => !Number.isNaN(v));
  return known.length === 0 ? Number.NaN : median(known);
}

function renderEvalCost(costs: readonly EvalCost[]): string[] {
  const one = costs.find((c) => c.nodes === 1 && !c.label.includes("GC_"));
  const rows = costs.map((c) => {
    const perNode = c.nodes > 0 ? formatDuration(c.cpuMs / c.nodes) : "–";
    const ratio = one && c.nodes > 1 ? `${(c.cpuMs / (one.cpuMs * c.nodes)).toFixed(2)}×` : "–";
    const rssPerNode = c.nodes > 1 ? mib(c.peakRssBytes / c.nodes) : "–";
    return `| ${c.label} | ${formatDuration(c.cpuMs)} | ${perNode} | ${ratio} | ${mib(c.peakRssBytes)} | ${rssPerNode} | ${mib(c.gcHeapBytes ?? Number.NaN)} | ${mib(c.gcAllocatedBytes ?? Number.NaN)} | ${formatDuration(c.wallMs)} |`;
  });
  const all = costs.filter((c) => c.nodes > 1 && !c.label.includes("GC_")).at(-1);
  const noGc = costs.find((c) => c.nodes > 1 && c.label.includes("GC_"));
  const sameCount = noGc && costs.find((c) => c.nodes === noGc.nodes && !c.label.includes("GC_"));
  const lines = [
    "| Evaluation (`nix eval` of toplevel drvPaths) | CPU | CPU per node | ÷ (one node × nodes) | Peak RSS | RSS per node | GC heap | Allocated | Wall |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ];
  if (one && all) {
    const marginal = (all.cpuMs - one.cpuMs) / (all.nodes - 1);
    const marginalRss = (all.peakRssBytes - one.peakRssBytes) / (all.nodes - 1);
    lines.push(
      "",
      `${all.nodes} nodes in one process cost ${(all.cpuMs / (one.cpuMs * all.nodes)).toFixed(2)}× what ${all.nodes} separate evaluations of one node cost:`,
      `each further node adds ${formatDuration(marginal)} of CPU and ${mib(marginalRss)} of resident memory, against ${formatDuration(one.cpuMs)} and ${mib(one.peakRssBytes)}`,
      "for a process that evaluates one node. One process shares the parsed files, nixpkgs' lib and the derivations'",
      "hashes, but every node has its own module system evaluation and its own package set (as with `nixosSystem`), and",
      "nothing a node used is freed while the flake's outputs hold it: a process's memory grows with its nodes. CPU",
      "excludes the first evaluation of each version, which also writes the new .drv files to the store.",
    );
  }
  if (noGc && sameCount) {
    lines.push(
      "",
      `Collecting garbage is ${percent(1 - noGc.cpuMs / sameCount.cpuMs)} of the CPU of ${noGc.nodes} nodes in one process: Nix's 384 MiB heap fills with every node,`,
      "and each collection marks everything the nodes before kept. Without collections a node costs more memory (all it",
      "allocated, not only what it keeps) and much less CPU; hive's evaluators start their heap at their share of the",
      "budget and are replaced when they reach it, so they seldom collect.",
    );
  }
  return lines;
}

function renderDeploys(input: RealFleetInput): { lines: string[]; missed: string[] } {
  const { samples, facts } = input;
  const nodes = facts.nodes.length;
  const ok = (tool: Tool) => samples.filter((s) => s.tool === tool && s.error === undefined);
  const phase = (tool: Tool, name: string) => mid(ok(tool).map((s) => s.phases[name] ?? Number.NaN));
  const row = (label: string, tool: Tool, cells: [string, string, string]) => {
    const runs = ok(tool);
    const ms = runs.map((s) => s.ms);
    const failedRuns = samples.filter((s) => s.tool === tool && s.error !== undefined).length;
    const times = `${runs.map((s) => seconds(s.ms)).join(", ")}${failedRuns > 0 ? ` (${failedRuns} failed)` : ""}`;
    const peak = (pick: (m: EvaluatorMemory) => number) => (runs.length === 0 ? "–" : mib(Math.max(...runs.map((s) => pick(s.memory)))));
    const started = runs.length === 0 ? "–" : String(Math.round(mid(runs.map((s) => s.memory.processes))));
    const stats = runs.length === 0 ? ["–", "–", "–"] : [formatDuration(median(ms)), formatDuration(Math.min(...ms)), formatDuration(Math.max(...ms))];
    return `| ${label} | ${stats.join(" | ")} | ${cells.join(" | ")} | ${peak((m) => m.peakSumBytes)} | ${peak((m) => m.peakSingleBytes)} | ${started} | ${percent(mid(runs.map((s) => s.cpu)))} | ${formatDuration(mid(runs.map((s) => s.ownCpuMs)))} | ${times} |`;
  };
  const f = formatDuration;
  const colmenaEvalBuild = mid(ok("colmena").map((s) => (s.phases.evaluate ?? Number.NaN) + (s.phases.build ?? Number.NaN)));
  const colmenaEvalBuilds = ok("colmena").map((s) => (s.phases.evaluate ?? Number.NaN) + (s.phases.build ?? Number.NaN)).filter((v) => !Number.isNaN(v));
  const colmenaRange = colmenaEvalBuilds.length > 1 ? `; ${f(Math.min(...colmenaEvalBuilds))} to ${f(Math.max(...colmenaEvalBuilds))} over the rounds` : "";
  const hive = mid(ok("hive").map((s) => s.ms));
  const hiveBudget = mid(ok("hive-budget").map((s) => s.ms));
  const reapply = mid(ok("hive-reapply").map((s) => s.ms));
  const budget = parseSize(input.evalMemory);
  const peakOf = (tools: Tool[]) => {
    const peaks = tools.flatMap((t) => ok(t)).map((s) => s.memory.peakSumBytes);
    return peaks.length === 0 ? Number.NaN : Math.max(...peaks);
  };
  const defaults = input.hiveDefaults;
  const targets = [
    {
      label: `\`hive apply\`, new version ≤ ${CHANGED_TARGET}× Colmena's evaluation and build alone (medians)`,
      measured: `${f(hive)} ÷ ${f(colmenaEvalBuild)} = ${(hive / colmenaEvalBuild).toFixed(2)}×`,
      met: hive / colmenaEvalBuild <= CHANGED_TARGET,
    },
    { label: `\`hive apply\`, no change ≤ ${REAPPLY_TARGET_MS / 1000} s (median)`, measured: f(reapply), met: reapply <= REAPPLY_TARGET_MS },
    {
      label: `hive's peak evaluator memory ≤ its default budget${defaults ? ` (${mib(defaults.memoryBytes)})` : ""}`,
      measured: mib(peakOf(["hive", "hive-reapply"])),
      met: defaults !== null && peakOf(["hive", "hive-reapply"]) <= defaults.memoryBytes,
    },
    {
      label: `hive's peak evaluator memory ≤ \`--eval-memory\` ${input.evalMemory}${input.hiveHasEvalMemory ? "" : " (this hive has no --eval-memory)"}`,
      measured: mib(peakOf(["hive-budget"])),
      met: input.hiveHasEvalMemory && budget !== null && peakOf(["hive-budget"]) <= budget,
    },
  ];
  const lines = [
    `| Deploy to ${nodes} nodes | Median | Min | Max | Evaluate | Build | Copy, activate | Peak evaluator memory (sum) | Largest evaluator | Evaluators started | CPUs busy | Deployer CPU | Runs (s) |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    row(`\`hive apply -p ${nodes}\`, new version`, "hive", [f(phase("hive", "evaluate")), f(phase("hive", "build")), f(phase("hive", "deploy"))]),
    ...(input.hiveHasEvalMemory
      ? [row(`\`hive apply -p ${nodes} --eval-memory ${input.evalMemory}\`, new version`, "hive-budget", [f(phase("hive-budget", "evaluate")), f(phase("hive-budget", "build")), f(phase("hive-budget", "deploy"))])]
      : []),
    row("Colmena's strategy, new version", "colmena", [f(phase("colmena", "evaluate")), f(phase("colmena", "build")), f(phase("colmena", "deploy"))]),
    row("loop, one node at a time, new version", "loop", [`${f(phase("loop", "build"))} (with build)`, "–", `${f(phase("loop", "copy"))} + ${f(phase("loop", "activate"))}`]),
    row("`hive apply`, no change", "hive-reapply", [f(phase("hive-reapply", "evaluate")), f(phase("hive-reapply", "build")), f(phase("hive-reapply", "deploy"))]),
    "",
    `Colmena's evaluation and build alone: ${f(colmenaEvalBuild)} (median${colmenaRange}). hive's columns are spans between its progress lines`,
    "(first `eval` to first `build`, first `build` to first `connect`, first `connect` to the last result); when hive",
    "streams nodes from evaluation into deployment they overlap, and only the total compares.",
    ...(input.hiveHasEvalMemory
      ? [
          "",
          `With \`--eval-memory ${input.evalMemory}\` hive took ${f(hiveBudget)}, ${(hiveBudget / colmenaEvalBuild).toFixed(2)}× Colmena's evaluation and build: an evaluator is replaced`,
          "each time it nears its share of the budget, and each new one evaluates the flake's shared parts (nixpkgs' lib, the",
          "module files) again, so a tight budget costs time; hive's default budget lets each evaluator keep its nodes.",
        ]
      : []),
    "",
    "| Target | Measured | |",
    "| --- | ---: | --- |",
    ...targets.map((t) => `| ${t.label} | ${t.measured} | ${t.met ? "met" : "**missed**"} |`),
  ];
  return { lines, missed: targets.filter((t) => !t.met).map((t) => t.label) };
}

export function renderRealFleet(input: RealFleetInput): { body: string; missed: string[]; failed: string[] } {
  const { facts } = input;
  const nodes = facts.nodes.length;
  const hiveCommand = `hive apply -p ${nodes} --json${input.hiveArgs.map((a) => ` ${a}`).join("")}`;
  const defaults = input.hiveDefaults
    ? `hive's defaults here: ${input.hiveDefaults.workers} evaluators within ${mib(input.hiveDefaults.memoryBytes)} (half of MemAvailable)`
    : "hive's default evaluators and budget";
  const deploys = renderDeploys(input);
  const failed = input.samples.filter((s) => s.error !== undefined).map((s) => `round ${s.round}, ${s.tool}: ${s.error!.split("\n").slice(0, 3).join(" / ")}`);
  const busy = input.backgroundCpu > QUIET_CPU
    ? ["", `**Taken on a busy machine** (CPUs ${percent(input.backgroundCpu)} busy before the run): other work slowed every row by`, "different amounts; compare within this run only, and re-run on a quiet machine before reading the targets."]
    : [];
  const body = [
    `Measured ${renderMachineInfo(input.info)} ${input.nix}. CPUs ${percent(input.backgroundCpu)} busy in the second before the run.`,
    ...busy,
    "",
    `**The fleet.** ${nodes} lab nodes and a flake made by \`bench/lib/nixos-fleet.ts\`, as a user keeps one: a git repository`,
    "(flake.nix, a flake.lock written by `nix flake lock`, modules/common.nix, roles/, hosts/) whose",
    "`nixosConfigurations.<node>` are `nixpkgs.lib.nixosSystem` results (`lib.evalModules`' own, with `extendModules`)",
    `from a locked \`path:\` input laid out like nixpkgs: nixpkgs' real \`lib\` and module system, ${facts.modules} modules (10`,
    "hand-written core ones: assertions, nixpkgs, users and groups, /etc, systemd units, networking and firewall, boot,",
    "system path, version, top-level; the rest generated services, programs and hardware modules with options of many",
    "types, defaults, `mkIf`/`mkMerge`, renamed and removed options, and defaults read from other modules' options), and",
    `a package set of ${facts.packages} packages per node (a fixpoint with overlays and \`callPackage\`, a \`makeScope\` Python`,
    "scope, a nixpkgs-like `mkDerivation` with meta checks, a staged stdenv bootstrap). Each node enables",
    `${facts.enabledPerNode} modules; one node's toplevel depends on ${facts.derivationsPerNode} derivations and its closure is ${facts.closurePaths} paths`,
    `(${mib(facts.closureBytes)}, with 512 KiB of filler). The toplevel is a lab system (lab/build-system.sh and`,
    "lab/switch-to-configuration.sh) linking the node's etc, units and system path. A new version is one line,",
    "`lab.version` in modules/common.nix, committed; it rebuilds three derivations per node (os-release, etc, toplevel).",
    "",
    "### What evaluation costs Nix",
    "",
    "Each a separate process under GNU time, after the derivations exist in the store; GC figures from `NIX_SHOW_STATS`",
    "(Boehm's heap at exit and the bytes allocated; Nix starts with a heap of a quarter of RAM, at most 384 MiB, and",
    "collects only when it is full).",
    "",
    ...renderEvalCost(input.evalCost),
    "",
    `### A new version on ${nodes} nodes`,
    "",
    "One untimed deploy first gives every node the fleet's first system (its whole closure); then each round deploys",
    "a new version with each tool, the round's first tool rotating (hive, hive with a tight budget, Colmena's strategy,",
    "then the loop):",
    "",
    `- **hive**: \`${hiveCommand}\` with a generated hive.ts (\`meta.flake\` is the repository), spawn to exit, with`,
    `  ${defaults}; then the **no-change** re-applies, right after it, each expecting every node \`unchanged\`.`,
    ...(input.hiveHasEvalMemory ? [`- **hive, tight budget**: the same with \`--eval-memory ${input.evalMemory}\`, a new version of its own.`] : []),
    "- **Colmena's strategy**: `nix flake metadata --json` for the locked URL, one `nix-instantiate --eval --strict",
    "  --json --read-write-mode` of every node's drvPath through `builtins.getFlake` (Colmena's `evalSelectedDrvPaths`;",
    "  its default `--eval-node-limit` is MemAvailable ÷ 512 MB, so one chunk here), one `nix-store --realise` of all",
    "  of them, then for all nodes at once: `nix-copy-closure --to --use-substitutes`, `ssh nix-env --profile ... --set`,",
    "  `ssh .../switch-to-configuration switch`, three connections per node as Colmena opens them.",
    "- **loop**: one node at a time, `nix build --json DIR#...toplevel` (an evaluation per node), `nix copy --to",
    "  ssh://`, `ssh 'nix-env --set ... && switch-to-configuration switch'` (bench/lib/lab-deploy.ts).",
    "",
    "Every run is checked on the nodes: `/run/current-system` and the system profile, read inside each node, are the",
    "path the tool reported and carry the new version's name; one node's toplevel per run is also evaluated",
    "separately and compared. Peak evaluator memory is the largest sum of the memory of the tool's Nix evaluators",
    "(`nix eval`/`build`/`flake`, `nix-instantiate`, `nix-eval-jobs`) running at once, sampled from /proc every",
    "100 ms: their proportional set sizes (resident memory, a page shared by several processes split among them, so",
    "a `nix build` forking a builder is not counted twice); the largest evaluator is the highest VmHWM (peak resident",
    "set) of one of them. Builds use Nix's own defaults here (`max-jobs = 1`), the same for every tool.",
    "",
    ...deploys.lines,
    ...(failed.length > 0 ? ["", "Failed runs:", "", ...failed.map((f) => `- ${f}`)] : []),
    "",
    "**What the lab distorts.** The nodes are namespaces on the deployer: their sshd, `nix-store` and activation",
    "scripts run on the same 2 CPUs as the evaluators, so everything a deployer overlaps with evaluation competes with",
    "it here, and parallel evaluators compete with each other (two cores for twenty nodes). The network is a local",
    "bridge: copies cost CPU, not latency or bandwidth. Builds are trivial `/bin/sh` derivations, so build time is",
    "Nix's own overhead (reading the derivation graph, locks, registration), not compilers. Real NixOS systems cost",
    "1 to 13 s of CPU and 0.3 to 1.7 GB each to evaluate; this fleet sits at the cheap end. Other work on the",
    "machine shows in every figure: compare rows of one run, not runs of different days.",
    "",
    `Reproduce as root: \`npm run build && npm run bench:real-fleet\` (lab \`bench-rf\` on ${input.labSubnet}.0.0/16; \`--help\` for the`,
    "options; the first run on a machine also builds the package set, a few minutes).",
  ].join("\n");
  return { body, missed: deploys.missed, failed };
}
