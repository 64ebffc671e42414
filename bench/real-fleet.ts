// Real-fleet benchmark: a NixOS-shaped flake (bench/lib/nixos-fleet.ts: nixpkgs' real module system, about 1 s and
// 300 MB of evaluation per node) on N lab nodes; a new version everywhere with `hive apply`, Colmena's strategy and
// the sequential loop, and hive's no-change re-apply: wall time and peak evaluator memory of each.
// As root, after `npm run build`: `npm run bench:real-fleet -- [options]` (see USAGE).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { downLab, execOnNode, labNixEnv, upLab, type Lab } from "../test/lab/lab.js";
import { HIVE_BIN, REPO, failBench, labBenchSession, requireBenchStart } from "./lib/session.js";
import { readApplyTimeline } from "./lib/apply-timeline.js";
import { deployColmenaStyle } from "./lib/colmena-strategy.js";
import { cpuBusyShare, readChildrenCpuMs, readCpu, sampleCpuBusy } from "./lib/cpu.js";
import { GNU_TIME, measureEvalCost } from "./lib/eval-cost.js";
import { sampleEvaluatorMemory } from "./lib/evaluator-memory.js";
import { deployOneByOne, SYSTEM_PROFILE, toplevelAttribute, writeLabHive } from "./lib/lab-deploy.js";
import { setFleetVersion, toplevelName, writeNixosFleet, type NixosFleet } from "./lib/nixos-fleet.js";
import { timeCommandStreaming } from "./lib/process.js";
import { QUIET_CPU, renderRealFleet, type FleetFacts, type RunSample } from "./lib/real-fleet-report.js";
import { machineInfo, replaceSection } from "./lib/report.js";
import { formatDuration } from "./lib/stats.js";

const USAGE = `usage: npm run bench:real-fleet -- [options]   (root; after npm run build)
  --nodes=N          lab nodes (default 20)
  --rounds=N         rounds of hive, Colmena's strategy and the loop, each a new version (default 2)
  --reapplies=N      no-change hive re-applies after each hive apply (default 2)
  --eval-memory=SIZE a tight evaluation memory budget: each round also runs \`hive apply --eval-memory SIZE\`
                     (when hive has that option) besides hive's defaults (default 2G)
  --hive-arg=ARG     one more argument for every \`hive apply\` (repeat for several)
  --modules=N --packages=N --enabled=N   the fleet's shape (default 1200, 6000, 100)
  --subnet=A.B       the lab's subnet (default 10.83); the lab is called ${"bench-rf"}
  --quick            4 nodes, 1 round, 1 re-apply, a small fleet; docs/benchmarks.md is left alone
  --no-write         do not update docs/benchmarks.md
  --keep             keep the generated fleet (its path is printed) instead of deleting it
  --strict           exit 1 when a target is missed, not only when a run fails`;

interface Options {
  nodes: number;
  rounds: number;
  reapplies: number;
  evalMemory: string;
  hiveArgs: string[];
  modules: number;
  packages: number;
  enabled: number;
  subnet: string;
  write: boolean;
  keep: boolean;
  strict: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const options: Options = {
    nodes: quick ? 4 : 20, rounds: quick ? 1 : 2, reapplies: quick ? 1 : 2, evalMemory: "2G", hiveArgs: [],
    modules: quick ? 200 : 1200, packages: quick ? 1000 : 6000, enabled: quick ? 40 : 100, subnet: "10.83",
    write: !quick, keep: false, strict: false,
  };
  const counts = { nodes: "nodes", rounds: "rounds", reapplies: "reapplies", modules: "modules", packages: "packages", enabled: "enabled" } as const;
  for (const arg of argv) {
    const count = /^--(nodes|rounds|reapplies|modules|packages|enabled)=([0-9]+)$/.exec(arg);
    const value = /^--(eval-memory|hive-arg|subnet)=(.*)$/.exec(arg);
    if (arg === "--quick") continue;
    if (arg === "--no-write") options.write = false;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--strict") options.strict = true;
    else if (count) options[counts[count[1] as keyof typeof counts]] = Number(count[2]);
    else if (value?.[1] === "eval-memory") options.evalMemory = value[2]!;
    else if (value?.[1] === "hive-arg") options.hiveArgs.push(value[2]!);
    else if (value?.[1] === "subnet" && /^\d{1,3}\.\d{1,3}$/.test(value[2]!)) options.subnet = value[2]!;
    else {
      const help = arg === "--help" || arg === "-h";
      process.stderr.write(`${help ? "" : `unknown or bad argument ${arg}\n`}${USAGE}\n`);
      process.exit(help ? 0 : 2);
    }
  }
  if (options.nodes < 1 || options.rounds < 1) {
    process.stderr.write(`--nodes and --rounds must be at least 1\n${USAGE}\n`);
    process.exit(2);
  }
  return options;
}

const LAB_NAME = "bench-rf";
/** Filler per toplevel, as bench/apply.ts: a new version moves real bytes to every node. */
const PAYLOAD_KIB = 512;

const options = parseOptions(process.argv.slice(2));
const repo = REPO;
const bin = HIVE_BIN;
requireBenchStart("the real-fleet benchmark brings up a lab fleet");
if (!existsSync(GNU_TIME)) failBench(`${GNU_TIME} (GNU time) is missing; install it with \`apt-get install time\``);

const runId = Date.now().toString(36);
const { dir, cleanUp } = labBenchSession(LAB_NAME, "hive-bench-real-fleet-", () => options.keep);
const hiveFile = join(dir, "hive.ts");
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** What every node runs and boots, read inside it; checked against the tool's report and the version's name. */
async function checkNodes(lab: Lab, version: string, reported: Record<string, string | null>, what: string): Promise<void> {
  const problems: string[] = [];
  await Promise.all(
    lab.nodes.map(async (node) => {
      const { stdout } = await execOnNode(lab, node.name, `readlink -f /run/current-system; readlink -f ${SYSTEM_PROFILE}`);
      const [current = "", profile = ""] = stdout.split("\n");
      const want = reported[node.name];
      if (!want || current !== want || profile !== want) problems.push(`${node.name}: runs ${current || "nothing"}, profile ${profile || "nothing"}; reported ${want ?? "nothing"}`);
      else if (!current.endsWith(`-${toplevelName(node.name, version)}`)) problems.push(`${node.name}: runs ${current}, not version ${version}`);
    }),
  );
  if (problems.length > 0) throw new Error(`${what}: ${problems.length} node(s) wrong:\n  ${problems.join("\n  ")}`);
}

/** One node's toplevel, evaluated independently of the tool (a different node each time), must be what it runs. */
function crossCheck(flakeDir: string, node: string, reported: string | null | undefined, what: string): void {
  const run = spawnSync("nix", ["eval", "--raw", `${flakeDir}#${toplevelAttribute(node)}.outPath`], { env: labNixEnv(), encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${what}: evaluating ${node} for the check failed:\n${run.stderr.trim()}`);
  if (run.stdout !== reported) throw new Error(`${what}: ${node} got ${reported ?? "nothing"}, but the flake evaluates to ${run.stdout}`);
}

interface Deployed {
  ms: number;
  phases: Record<string, number>;
  /** The toplevel the tool says each node now runs. */
  outPaths: Record<string, string | null>;
}

interface Measured {
  tool: RunSample["tool"];
  round: number;
  /** The version every node must run afterwards. */
  version: string;
  /** A node whose toplevel is also evaluated separately, or none (a no-change run changes nothing). */
  crossCheckNode?: string;
  deploy: (running: Set<number>) => Promise<Deployed>;
}

/**
 * Runs one measured deploy: time, the machine's CPU, the deployer's CPU and its evaluators' memory; then,
 * outside the measurement, checks every node's real state.
 */
async function measureRun(lab: Lab, flakeDir: string, run: Measured): Promise<RunSample> {
  const running = new Set<number>();
  const sampler = sampleEvaluatorMemory(() => [...running]);
  const cpuBefore = readCpu();
  const ownBefore = readChildrenCpuMs();
  const what = `round ${run.round}, ${run.tool}`;
  let deployed: Deployed;
  try {
    deployed = await run.deploy(running);
  } catch (error) {
    return { tool: run.tool, round: run.round, ms: Number.NaN, phases: {}, memory: sampler.stop(), cpu: Number.NaN, ownCpuMs: Number.NaN, error: error instanceof Error ? error.message : String(error) };
  }
  const sample: RunSample = {
    tool: run.tool, round: run.round, ms: deployed.ms, phases: deployed.phases,
    memory: sampler.stop(), cpu: cpuBusyShare(cpuBefore, readCpu()), ownCpuMs: readChildrenCpuMs() - ownBefore,
  };
  try {
    await checkNodes(lab, run.version, deployed.outPaths, what);
    if (run.crossCheckNode !== undefined) crossCheck(flakeDir, run.crossCheckNode, deployed.outPaths[run.crossCheckNode], what);
  } catch (error) {
    sample.error = error instanceof Error ? error.message : String(error);
  }
  return sample;
}

let hiveHasEvalMemory = false;
/** `budget`: run with `--eval-memory` (options.evalMemory) instead of hive's default budget. */
async function runHive(lab: Lab, want: "succeeded" | "unchanged", running: Set<number>, budget = false): Promise<Deployed> {
  const args = [bin, "-f", hiveFile, "apply", "-p", String(lab.nodes.length), "--json", ...(budget && hiveHasEvalMemory ? ["--eval-memory", options.evalMemory] : []), ...options.hiveArgs];
  const run = await timeCommandStreaming(process.execPath, args, { cwd: dir, env: { ...labNixEnv(), NO_COLOR: "1", FORCE_COLOR: undefined }, running });
  const tail = () => run.stderr.trim().split("\n").slice(-30).join("\n");
  if (run.status !== 0) throw new Error(`hive apply exited with ${run.status}:\n${tail()}`);
  let doc: { nodes: { name: string; result: string; outPath: string | null }[] };
  try {
    doc = JSON.parse(run.stdout) as typeof doc;
  } catch {
    throw new Error(`hive apply printed no JSON:\n${run.stdout.slice(0, 500)}\n${tail()}`);
  }
  const wrong = doc.nodes.filter((n) => n.result !== want).map((n) => `${n.name} ${n.result}`);
  if (wrong.length > 0 || doc.nodes.length !== lab.nodes.length) throw new Error(`hive apply: expected ${lab.nodes.length} nodes ${want}, got ${doc.nodes.length}, ${wrong.join(", ") || "none other"}:\n${tail()}`);
  const t = readApplyTimeline(run.stderrLines, run.ms);
  return { ms: run.ms, phases: { evaluate: t.evaluate, build: t.build, deploy: t.deploy, startup: t.startup }, outPaths: Object.fromEntries(doc.nodes.map((n) => [n.name, n.outPath])) };
}

async function measureRounds(lab: Lab, fleet: NixosFleet): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  const measure = async (run: Measured) => {
    const sample = await measureRun(lab, fleet.flakeDir, run);
    samples.push(sample);
    const memory = `evaluators ${(sample.memory.peakSumBytes / 2 ** 20).toFixed(0)} MiB at peak (largest ${(sample.memory.peakSingleBytes / 2 ** 20).toFixed(0)} MiB, ${sample.memory.processes} started)`;
    progress(`round ${sample.round}: ${sample.tool} ${sample.error ? `FAILED: ${sample.error.split("\n")[0]}` : `${formatDuration(sample.ms)}; ${memory}`}`);
    return sample;
  };
  const nodeAt = (i: number) => lab.nodes[i % lab.nodes.length]!.name;
  const hive = async (round: number) => {
    const version = `${runId}-h${round}`;
    setFleetVersion(fleet.flakeDir, version);
    let last = await measure({ tool: "hive", round, version, crossCheckNode: nodeAt(4 * round), deploy: (running) => runHive(lab, "succeeded", running) });
    // A re-apply measures what follows hive's own apply of the same commit; after a failure there is none.
    for (let k = 0; k < options.reapplies && last.error === undefined; k++) {
      last = await measure({ tool: "hive-reapply", round, version, deploy: (running) => runHive(lab, "unchanged", running) });
    }
  };
  const hiveBudget = async (round: number) => {
    if (!hiveHasEvalMemory) return;
    const version = `${runId}-b${round}`;
    setFleetVersion(fleet.flakeDir, version);
    await measure({ tool: "hive-budget", round, version, crossCheckNode: nodeAt(4 * round + 1), deploy: (running) => runHive(lab, "succeeded", running, true) });
  };
  const colmena = async (round: number) => {
    const version = `${runId}-c${round}`;
    setFleetVersion(fleet.flakeDir, version);
    await measure({
      tool: "colmena", round, version, crossCheckNode: nodeAt(4 * round + 2),
      deploy: async (running) => {
        const run = await deployColmenaStyle(lab, fleet.flakeDir, { parallel: lab.nodes.length, running });
        return { ms: run.ms, phases: { evaluate: run.evalMs, build: run.buildMs, deploy: run.deployMs }, outPaths: run.outPaths };
      },
    });
  };
  const loop = async (round: number) => {
    const version = `${runId}-l${round}`;
    setFleetVersion(fleet.flakeDir, version);
    await measure({
      tool: "loop", round, version, crossCheckNode: nodeAt(4 * round + 3),
      deploy: async (running) => {
        const run = await deployOneByOne(lab, fleet.flakeDir, { running });
        return { ms: run.ms, phases: { build: run.steps.build, copy: run.steps.copy, activate: run.steps.activate }, outPaths: run.outPaths };
      },
    });
  };
  const order = [hive, hiveBudget, colmena, loop];
  for (let round = 1; round <= options.rounds; round++) {
    // Each round starts with the next tool, so a change in the machine's load over the run spreads over all three.
    for (let i = 0; i < order.length; i++) await order[(round - 1 + i) % order.length]!(round);
  }
  return samples;
}

/** Builds every node's first version once (untimed; the first run on a machine builds the package set too). */
function prebuild(fleet: NixosFleet): void {
  const env = labNixEnv();
  const expr = `cs: builtins.mapAttrs (n: c: c.config.system.build.toplevel.drvPath) cs`;
  const drvs = JSON.parse(execFileSync("nix", ["eval", "--json", `${fleet.flakeDir}#nixosConfigurations`, "--apply", expr], { env, encoding: "utf8", maxBuffer: 64 << 20 })) as Record<string, string>;
  execFileSync("nix-store", ["--realise", "--max-jobs", "4", ...Object.values(drvs)], { env, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
}

function describeFleet(fleet: NixosFleet, lab: Lab): FleetFacts {
  const env = labNixEnv();
  const node = lab.nodes[0]!.name;
  const drv = execFileSync("nix", ["eval", "--raw", `${fleet.flakeDir}#${toplevelAttribute(node)}.drvPath`], { env, encoding: "utf8" });
  const buildInputs = execFileSync("nix-store", ["--query", "--requisites", drv], { env, encoding: "utf8", maxBuffer: 64 << 20 }).split("\n").filter((p) => p.endsWith(".drv")).length;
  const out = execFileSync("nix-store", ["--query", "--outputs", drv], { env, encoding: "utf8" }).trim();
  const closure = execFileSync("nix-store", ["--query", "--requisites", out], { env, encoding: "utf8", maxBuffer: 64 << 20 }).trim().split("\n");
  const sizes = execFileSync("nix-store", ["--query", "--size", ...closure], { env, encoding: "utf8", maxBuffer: 64 << 20 }).trim().split("\n").map(Number);
  return { ...fleet, derivationsPerNode: buildInputs, closurePaths: closure.length, closureBytes: sizes.reduce((a, b) => a + b, 0) };
}

/** The evaluators and budget hive chooses by itself on this machine now, from its plan (null when it does not say). */
function defaultEvalSettings(): { workers: number; memoryBytes: number } | null {
  const run = spawnSync(process.execPath, [bin, "-f", hiveFile, "apply", "--plan", "--json", ...options.hiveArgs], { cwd: dir, env: { ...labNixEnv(), NO_COLOR: "1" }, encoding: "utf8" });
  try {
    const plan = JSON.parse(run.stdout) as { eval?: { workers?: number; memoryBytes?: number } };
    return plan.eval?.workers !== undefined && plan.eval.memoryBytes !== undefined ? { workers: plan.eval.workers, memoryBytes: plan.eval.memoryBytes } : null;
  } catch {
    return null;
  }
}

function nixVersion(): string {
  try {
    return execFileSync("nix", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "nix (version unknown)";
  }
}

let exitCode = 0;
try {
  const backgroundCpu = await sampleCpuBusy(1000);
  if (backgroundCpu > QUIET_CPU) progress(`warning: the machine is already ${Math.round(backgroundCpu * 100)}% busy; the numbers will show it`);
  progress(`bringing up lab ${LAB_NAME} (${options.nodes} nodes, ${options.subnet}.0.0/16)`);
  await downLab(LAB_NAME); // a lab left by an interrupted run starts afresh, with empty stores
  const lab = await upLab({ name: LAB_NAME, subnet: options.subnet, nodes: options.nodes });
  progress(`generating a fleet of ${lab.nodes.length} nodes (${options.modules} modules, ${options.packages} packages, ${options.enabled} enabled per node)`);
  const fleet = writeNixosFleet({ dir: join(dir, "fleet"), nodes: lab.nodes.map((n) => n.name), modules: options.modules, packages: options.packages, enabledPerNode: options.enabled, version: `${runId}-0`, payloadKiB: PAYLOAD_KIB });
  writeLabHive(hiveFile, lab, fleet.flakeDir);
  hiveHasEvalMemory = spawnSync(process.execPath, [bin, "apply", "--help"], { encoding: "utf8" }).stdout.includes("--eval-memory");
  const hiveDefaults = defaultEvalSettings();

  progress("building every node's first system (untimed; the first run on this machine also builds the package set)");
  prebuild(fleet);
  const facts = describeFleet(fleet, lab);
  progress("measuring what evaluation costs Nix (1 node, 10 nodes, all nodes in one process)");
  const evalCost = measureEvalCost(fleet.flakeDir, fleet.nodes, labNixEnv());
  for (const cost of evalCost) progress(`  ${cost.label}: ${formatDuration(cost.cpuMs)} CPU, ${(cost.peakRssBytes / 2 ** 20).toFixed(0)} MiB peak RSS`);
  progress("warm-up: every node gets its first system with Colmena's strategy (untimed)");
  await deployColmenaStyle(lab, fleet.flakeDir, { parallel: lab.nodes.length });
  spawnSync(process.execPath, [bin, "-f", hiveFile, "nodes"], { cwd: dir, stdio: "ignore" }); // compiles hive.ts once, as a user's earlier runs would have

  const samples = await measureRounds(lab, fleet);
  const { body, missed, failed } = renderRealFleet({
    info: machineInfo(repo), nix: nixVersion(), backgroundCpu, facts, evalCost, samples,
    evalMemory: options.evalMemory, hiveHasEvalMemory, hiveDefaults, hiveArgs: options.hiveArgs, labSubnet: options.subnet,
  });
  process.stdout.write(`\n${body}\n`);
  if (options.write) {
    replaceSection(join(repo, "docs", "benchmarks.md"), "## Real fleet", body);
    progress(`\nwrote the Real fleet section of ${join(repo, "docs", "benchmarks.md")}`);
  }
  if (failed.length > 0) {
    progress(`\n${failed.length} run(s) failed:\n${failed.join("\n")}`);
    exitCode = 1;
  }
  if (missed.length > 0) {
    progress(`\ntarget missed: ${missed.join("; ")}`);
    if (options.strict) exitCode = 1;
  }
} catch (error) {
  progress(`\nFAILED: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await cleanUp();
}
process.exit(exitCode);
