// Apply benchmark: `hive apply` against a loop deploying one node at a time (nix build, nix copy, ssh), on a lab fleet.
// As root, after `npm run build`: `npx jiti bench/apply.ts [--quick] [--nodes=N] [--rounds=N] [--reapplies=N] [--no-write] [--strict]`.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { downLab, labNixEnv, makeLabFlake, setVersion, upLab, type Lab } from "../test/lab/lab.js";
import { type ApplyTimeline, medianTimeline, readApplyTimeline } from "./lib/apply-timeline.js";
import { deployOneByOne, expectedSystems, findWrongNodes, type LoopStepTotals, measureSshConnection, writeLabHive } from "./lib/lab-deploy.js";
import { cpuBusyShare, readChildrenCpuMs, readCpu, sampleCpuBusy } from "./lib/cpu.js";
import { timeCommandStreaming } from "./lib/process.js";
import { HIVE_BIN, REPO, labBenchSession, requireBenchStart } from "./lib/session.js";
import { machineInfo, renderMachineInfo, replaceSection } from "./lib/report.js";
import { formatDuration, median, summarize } from "./lib/stats.js";

const USAGE = `usage: npx jiti bench/apply.ts [--quick] [--nodes=N] [--rounds=N] [--reapplies=N] [--no-write] [--strict]
  --quick        6 nodes, 1 round, and docs/benchmarks.md is left alone (for CI)
  --nodes=N      lab nodes (default 20)
  --rounds=N     timed deploys of a new version per side (default 3)
  --reapplies=N  no-change re-applies after each hive round (default 3)
  --no-write     do not update docs/benchmarks.md
  --strict       exit 1 when a target is missed, not only when a node ends up wrong`;

interface Options {
  nodes: number;
  rounds: number;
  reapplies: number;
  write: boolean;
  strict: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const options: Options = { nodes: quick ? 6 : 20, rounds: quick ? 1 : 3, reapplies: 3, write: !quick, strict: argv.includes("--strict") };
  for (const arg of argv) {
    const count = /^--(nodes|rounds|reapplies)=([1-9][0-9]*)$/.exec(arg);
    if (arg === "--quick" || arg === "--strict") continue;
    if (arg === "--no-write") options.write = false;
    else if (count) options[count[1] as "nodes" | "rounds" | "reapplies"] = Number(count[2]);
    else {
      process.stderr.write(`${arg === "--help" || arg === "-h" ? "" : `unknown argument ${arg}\n`}${USAGE}\n`);
      process.exit(arg === "--help" || arg === "-h" ? 0 : 2);
    }
  }
  return options;
}

const LAB_NAME = "bench";
const LAB_SUBNET = "10.80";
/** Filler per system, so pushing a closure moves real bytes. */
const PAYLOAD_KIB = 512;
const RATIO_TARGET = 5;
const REAPPLY_TARGET_MS = 3000;
/** Above this CPU busy share before the run, the report warns that other work was running. */
const QUIET_CPU = 0.15;

const options = parseOptions(process.argv.slice(2));
const repo = REPO;
const bin = HIVE_BIN;
requireBenchStart("the apply benchmark brings up a lab fleet");

// Versions unique to this run: no node or store keeps a system from an earlier run that would spare a copy.
const runId = Date.now().toString(36);
const { dir, cleanUp } = labBenchSession(LAB_NAME, "hive-bench-apply-");
const hiveFile = join(dir, "hive.ts");
const progress = (line: string) => process.stderr.write(`${line}\n`);

interface HiveSample {
  ms: number;
  /** Share of the machine's CPU time spent busy during the run (the lab's nodes included). */
  cpu: number;
  /** CPU time of hive and everything it ran (nix, ssh), in ms. */
  ownCpuMs: number;
  timeline: ApplyTimeline;
}

interface Results {
  hive: HiveSample[];
  /** `hive apply --no-magic-rollback`: no dead-man confirmation; shows what the confirmation costs. */
  hiveNoConfirm: HiveSample[];
  reapply: HiveSample[];
  loop: { ms: number; cpu: number; ownCpuMs: number; steps: LoopStepTotals }[];
  payloadKiB: number;
  /** CPU busy share over a second before the lab came up: other work on the machine skews every number. */
  backgroundCpu: number;
  /** One OpenSSH connection to a lab node, for context: wall time and the machine's CPU time. */
  ssh: { wallMs: number; cpuMs: number };
}

async function checkNodes(lab: Lab, flakeDir: string, what: string, reported?: Record<string, string | null>): Promise<void> {
  // Evaluated after the deploy, so neither side finds the flake already evaluated.
  const expected = expectedSystems(flakeDir);
  const problems = await findWrongNodes(lab, expected);
  if (reported) {
    for (const node of lab.nodes) {
      if (reported[node.name] !== expected[node.name]) problems.push(`${node.name}: reported ${reported[node.name] ?? "nothing"}, expected ${expected[node.name]}`);
    }
  }
  if (problems.length > 0) throw new Error(`${what}: ${problems.length} node(s) wrong:\n  ${problems.join("\n  ")}`);
}

async function runHiveApply(lab: Lab, flakeDir: string, what: string, wantResult: "succeeded" | "unchanged", extraArgs: string[] = []): Promise<HiveSample> {
  const cpuBefore = readCpu();
  const ownBefore = readChildrenCpuMs();
  const run = await timeCommandStreaming(process.execPath, [bin, "-f", hiveFile, "apply", "-p", String(lab.nodes.length), "--json", ...extraArgs], {
    cwd: dir,
    env: { ...labNixEnv(), NO_COLOR: "1", FORCE_COLOR: undefined },
  });
  const cpu = cpuBusyShare(cpuBefore, readCpu());
  const ownCpuMs = readChildrenCpuMs() - ownBefore;
  const tail = () => run.stderr.trim().split("\n").slice(-30).join("\n");
  if (run.status !== 0) throw new Error(`${what}: hive apply exited with ${run.status}:\n${tail()}`);
  let doc: { nodes: { name: string; result: string; outPath: string | null }[] };
  try {
    doc = JSON.parse(run.stdout) as typeof doc;
  } catch {
    throw new Error(`${what}: hive apply printed no JSON:\n${run.stdout.slice(0, 500)}\n${tail()}`);
  }
  const wrong = doc.nodes.filter((n) => n.result !== wantResult).map((n) => `${n.name} ${n.result}`);
  if (wrong.length > 0 || doc.nodes.length !== lab.nodes.length) {
    throw new Error(`${what}: expected ${lab.nodes.length} nodes ${wantResult}, got ${doc.nodes.length} with ${wrong.join(", ") || "none other"}:\n${tail()}`);
  }
  await checkNodes(lab, flakeDir, what, Object.fromEntries(doc.nodes.map((n) => [n.name, n.outPath])));
  return { ms: run.ms, cpu, ownCpuMs, timeline: readApplyTimeline(run.stderrLines, run.ms) };
}

function percent(share: number): string {
  return Number.isNaN(share) ? "–" : `${Math.round(share * 100)}%`;
}

function describeSample(sample: HiveSample): string {
  const t = sample.timeline;
  return `startup ${formatDuration(t.startup)}, evaluate ${formatDuration(t.evaluate)}, build ${formatDuration(t.build)}, deploy ${formatDuration(t.deploy)}; CPU ${percent(sample.cpu)} busy; hive's own CPU ${formatDuration(sample.ownCpuMs)}`;
}

async function measure(lab: Lab, backgroundCpu: number): Promise<Results> {
  const flakeDir = await makeLabFlake(join(dir, "flake"), {
    version: `${runId}-warm`,
    nodes: Object.fromEntries(lab.nodes.map((n) => [n.name, { payloadKiB: PAYLOAD_KIB, activationSleep: 0 }])),
  });
  writeLabHive(hiveFile, lab, flakeDir);
  progress("warm-up: hive apply (not timed)");
  await runHiveApply(lab, flakeDir, "warm-up", "succeeded");
  const ssh = measureSshConnection(lab);
  progress(`one OpenSSH connection: ${formatDuration(ssh.wallMs)}, ${formatDuration(ssh.cpuMs)} of CPU`);
  const results: Results = { hive: [], hiveNoConfirm: [], reapply: [], loop: [], payloadKiB: PAYLOAD_KIB, backgroundCpu, ssh };
  for (let round = 1; round <= options.rounds; round++) {
    await setVersion(flakeDir, `${runId}-h${round}`);
    const hive = await runHiveApply(lab, flakeDir, `round ${round}, hive apply`, "succeeded");
    results.hive.push(hive);
    progress(`round ${round}/${options.rounds}: hive apply ${formatDuration(hive.ms)} (${describeSample(hive)})`);
    for (let k = 1; k <= options.reapplies; k++) {
      const again = await runHiveApply(lab, flakeDir, `round ${round}, no-change re-apply ${k}`, "unchanged");
      results.reapply.push(again);
      progress(`round ${round}/${options.rounds}: hive apply, no change ${formatDuration(again.ms)} (${describeSample(again)})`);
    }

    await setVersion(flakeDir, `${runId}-l${round}`);
    const cpuBefore = readCpu();
    const ownBefore = readChildrenCpuMs();
    const loop = await deployOneByOne(lab, `path:${flakeDir}`);
    const cpu = cpuBusyShare(cpuBefore, readCpu());
    const ownCpuMs = readChildrenCpuMs() - ownBefore;
    await checkNodes(lab, flakeDir, `round ${round}, loop`, loop.outPaths);
    results.loop.push({ ms: loop.ms, cpu, ownCpuMs, steps: loop.steps });
    progress(`round ${round}/${options.rounds}: loop ${formatDuration(loop.ms)} (CPU ${percent(cpu)} busy; loop's own CPU ${formatDuration(ownCpuMs)})`);

    await setVersion(flakeDir, `${runId}-n${round}`);
    const noConfirm = await runHiveApply(lab, flakeDir, `round ${round}, hive apply --no-magic-rollback`, "succeeded", ["--no-magic-rollback"]);
    results.hiveNoConfirm.push(noConfirm);
    progress(`round ${round}/${options.rounds}: hive apply --no-magic-rollback ${formatDuration(noConfirm.ms)} (${describeSample(noConfirm)})`);
  }
  return results;
}

function nixVersion(): string {
  try {
    return execFileSync("nix", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "nix (version unknown)";
  }
}

function render(results: Results, nodes: number): { body: string; missed: string[] } {
  const hive = summarize(results.hive.map((s) => s.ms));
  const loop = summarize(results.loop.map((s) => s.ms));
  const reapply = summarize(results.reapply.map((s) => s.ms));
  const ratio = loop.median / hive.median;
  const targets = [
    { label: `loop ÷ \`hive apply\` ≥ ${RATIO_TARGET}× (medians)`, measured: `${ratio.toFixed(2)}×`, met: ratio >= RATIO_TARGET },
    { label: `no-change re-apply of ${nodes} nodes < ${REAPPLY_TARGET_MS / 1000} s (median)`, measured: formatDuration(reapply.median), met: reapply.median < REAPPLY_TARGET_MS },
  ];
  const row = (label: string, runs: readonly { ms: number; cpu: number; ownCpuMs: number }[]) => {
    const s = summarize(runs.map((x) => x.ms));
    const mid = (values: number[]) => (values.some((v) => !Number.isNaN(v)) ? median(values.filter((v) => !Number.isNaN(v))) : Number.NaN);
    const times = runs.map((x) => (x.ms / 1000).toFixed(2)).join(", ");
    const cpu = `${percent(mid(runs.map((x) => x.cpu)))} | ${formatDuration(mid(runs.map((x) => x.ownCpuMs)))}`;
    return `| ${label} | ${formatDuration(s.median)} | ${formatDuration(s.min)} | ${formatDuration(s.max)} | ${cpu} | ${times} |`;
  };
  const t = medianTimeline(results.hive.map((s) => s.timeline));
  const r = medianTimeline(results.reapply.map((s) => s.timeline));
  const steps = (pick: (s: LoopStepTotals) => number) => median(results.loop.map((l) => pick(l.steps)));
  const perNode = (total: number) => formatDuration(total / nodes);
  const info = machineInfo(repo);
  const body = [
    `Measured ${renderMachineInfo(info)} ${nixVersion()}. CPUs ${percent(results.backgroundCpu)} busy in the second before the run.`,
    "",
    `A lab of ${nodes} nodes (network namespaces on this machine, each with its own sshd and \`/nix\`) and a lab flake whose`,
    `systems carry ${results.payloadKiB} KiB of filler each and activate for real (set the profile, restart a small web service).`,
    "Every timed deploy first changes the version of every node's system, each time to a version no node or store has",
    "seen, so each one evaluates, builds, copies and activates a new system on every node. The deploys alternate",
    `round by round (hive, loop, hive without confirmation; ${results.hive.length} round${results.hive.length === 1 ? "" : "s"}, after one untimed \`hive apply\`):`,
    "",
    `- **hive**: \`hive apply -p ${nodes} --json\` with a generated hive.ts, timed from spawn to exit.`,
    "- **loop**: what a script without a deployer does, one node at a time: `nix build` of the node's toplevel (one",
    "  Nix process per node), `nix copy --to ssh://root@ADDR`, then `ssh root@ADDR 'nix-env -p",
    "  /nix/var/nix/profiles/system --set OUT && OUT/bin/switch-to-configuration switch'`; timed from the first",
    "  command to the last.",
    "- **hive, no confirmation**: the same with `--no-magic-rollback`, so nodes do not wait for hive's dead-man",
    "  confirmation over a second connection; no target, it shows what the confirmation costs.",
    `- **no change**: \`hive apply\` again right after each hive round (${results.reapply.length / results.hive.length} times each); every node reported \`unchanged\`.`,
    "",
    "Both sides run with the lab's offline Nix settings (no substituters). After every run, each node's",
    "`/run/current-system` and system profile were read inside the node and compared with the flake's toplevels",
    "(evaluated separately after the run), and so were the out paths each side reported. CPUs busy is the share of",
    "all the machine's CPU time in use during the run: the nodes' sshd and nix-store run on the same CPUs as the",
    "deployer, so a parallel deploy here is bounded by the CPUs, not by the network. Deployer CPU is the CPU time of",
    "the deployer's side alone: hive or the loop's commands, with every process they started (nix, ssh). Reproduce with",
    "`npm run build && npx jiti bench/apply.ts` (root; `--quick` for 6 nodes and 1 round).",
    "",
    `| Deploy to ${nodes} nodes | Median | Min | Max | CPUs busy | Deployer CPU | Runs (s) |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    row(`\`hive apply -p ${nodes}\`, new version`, results.hive),
    row("loop, one node at a time, new version", results.loop),
    row(`\`hive apply -p ${nodes} --no-magic-rollback\`, new version`, results.hiveNoConfirm),
    row("`hive apply`, no change", results.reapply),
    "",
    "| Target | Measured | |",
    "| --- | ---: | --- |",
    ...targets.map((x) => `| ${x.label} | ${x.measured} | ${x.met ? "met" : "**missed**"} |`),
    "",
    "Where the time goes (medians over runs). hive's spans come from its progress lines on stderr, stamped as they",
    "arrive; the per-node steps overlap across nodes. Connect is the connection, the node lock and the probe.",
    "",
    "| | startup (load hive.ts) | evaluate | build | connect, push, activate | per node: connect / copy / activate / verify | exit |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...([
      ["`hive apply`, new version", t],
      ["`hive apply --no-magic-rollback`, new version", medianTimeline(results.hiveNoConfirm.map((s) => s.timeline))],
      ["`hive apply`, no change", r],
    ] as const).map(([label, s]) => {
      const p = s.perNode;
      return `| ${label} | ${formatDuration(s.startup)} | ${formatDuration(s.evaluate)} | ${formatDuration(s.build)} | ${formatDuration(s.deploy)} | ${[p.connect, p.copy, p.activate, p.verify].map(formatDuration).join(" / ")} | ${formatDuration(s.finish)} |`;
    }),
    "",
    `The loop's ${formatDuration(loop.median)} splits into \`nix build\` ${formatDuration(steps((s) => s.build))} (${perNode(steps((s) => s.build))} per node),`,
    `\`nix copy\` ${formatDuration(steps((s) => s.copy))} (${perNode(steps((s) => s.copy))} per node) and ssh activation ${formatDuration(steps((s) => s.activate))} (${perNode(steps((s) => s.activate))} per node).`,
    `One OpenSSH connection to a lab node (\`ssh root@ADDR true\`) takes ${formatDuration(results.ssh.wallMs)} and ${formatDuration(results.ssh.cpuMs)} of CPU time, client and sshd`,
    "together. The loop opens two per node (nix copy, activation). hive opens one ssh2 connection per node, while Nix",
    "evaluates and builds (lock, probe, push into one `nix-store --serve --write`, activation and its polls), and a",
    "second one to confirm the activation (not with `--no-magic-rollback`); it starts no Nix process per node on the",
    "deployer (the closures' export is written in-process).",
  ].join("\n");
  return { body, missed: targets.filter((x) => !x.met).map((x) => x.label) };
}

let exitCode = 0;
let results: Results | undefined;
let labNodes = options.nodes;
try {
  const backgroundCpu = await sampleCpuBusy(1000);
  if (backgroundCpu > QUIET_CPU) progress(`warning: the machine is already ${percent(backgroundCpu)} busy; the numbers will show it`);
  progress(`bringing up lab ${LAB_NAME} (${options.nodes} nodes, ${LAB_SUBNET}.0.0/16)`);
  await downLab(LAB_NAME); // a lab left by an interrupted run starts afresh, with empty stores
  const lab = await upLab({ name: LAB_NAME, subnet: LAB_SUBNET, nodes: options.nodes });
  labNodes = lab.nodes.length;
  results = await measure(lab, backgroundCpu);
} catch (error) {
  process.stderr.write(`\nFAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  exitCode = 1;
} finally {
  await cleanUp();
}

if (results !== undefined) {
  const { body, missed } = render(results, labNodes);
  process.stdout.write(`\n${body}\n`);
  if (options.write) {
    const doc = join(repo, "docs", "benchmarks.md");
    replaceSection(doc, "## Apply", body);
    process.stderr.write(`\nwrote the Apply section of ${doc}\n`);
  }
  if (missed.length > 0) {
    process.stderr.write(`\ntarget missed: ${missed.join("; ")}\n`);
    if (options.strict) exitCode = 1;
  }
}
process.exit(exitCode);
