// Startup benchmark: `node -e 0`, `hive --version` and `hive nodes` on a generated 1000-node hive.ts.
// Run `npm run build` first, then `npx jiti bench/startup.ts [--quick] [--runs=N] [--no-write] [--strict]`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateFleet, renderHiveFile, selectServersExceptWeb1x } from "./lib/fleet.js";
import { timeCommand } from "./lib/process.js";
import { machineInfo, renderMachineInfo, replaceSection } from "./lib/report.js";
import { HIVE_BIN, REPO, requireBenchStart } from "./lib/session.js";
import { type Summary, formatMs, summarize } from "./lib/stats.js";

const USAGE = `usage: npx jiti bench/startup.ts [--quick] [--runs=N] [--no-write] [--strict]
  --quick     5 runs after 1 warm-up, and docs/benchmarks.md is left alone (for CI)
  --runs=N    timed runs per command (default 20)
  --no-write  do not update docs/benchmarks.md
  --strict    exit 1 when a target is missed, not only when output is wrong`;

interface Options {
  runs: number;
  warmups: number;
  write: boolean;
  strict: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const options: Options = { runs: quick ? 5 : 20, warmups: quick ? 1 : 2, write: !quick, strict: argv.includes("--strict") };
  for (const arg of argv) {
    if (arg === "--quick" || arg === "--strict") continue;
    if (arg === "--no-write") options.write = false;
    else if (/^--runs=[1-9][0-9]*$/.test(arg)) options.runs = Number(arg.slice("--runs=".length));
    else {
      process.stderr.write(`${arg === "--help" || arg === "-h" ? "" : `unknown argument ${arg}\n`}${USAGE}\n`);
      process.exit(arg === "--help" || arg === "-h" ? 0 : 2);
    }
  }
  return options;
}

interface Case {
  label: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Throws when the output is wrong; every timed run is checked, not only the first. */
  check: (stdout: string) => void;
}

const SELECTOR = "@server&!web-1*";
const VERSION_RATIO_TARGET = 3;
const NODES_TARGET_MS = 500;

const options = parseOptions(process.argv.slice(2));
const repo = REPO;
const bin = HIVE_BIN;
requireBenchStart(null);
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

const fleet = generateFleet();
const expected = selectServersExceptWeb1x(fleet);
const dir = mkdtempSync(join(tmpdir(), "hive-bench-"));
const file = join(dir, "hive.ts");
writeFileSync(file, renderHiveFile(fleet));

const expectEqual = (what: string, actual: unknown, wanted: unknown) => {
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
    throw new Error(`${what}: expected ${JSON.stringify(wanted).slice(0, 200)}, got ${JSON.stringify(actual).slice(0, 200)}`);
  }
};

const cases: Case[] = [
  { label: "`node -e 0`", args: ["-e", "0"], check: (out) => expectEqual("node -e 0 output", out, "") },
  { label: "`hive --version`", args: [bin, "--version"], check: (out) => expectEqual("hive --version output", out.trim(), version) },
  {
    label: "`hive -f FILE nodes`",
    args: [bin, "-f", file, "nodes"],
    check: (out) => {
      const names = out.trimEnd().split("\n").slice(1).map((line) => line.split(/\s+/)[0]);
      expectEqual("hive nodes: node names", names, fleet.map((n) => n.name));
    },
  },
  {
    label: `\`hive -f FILE nodes --on '${SELECTOR}' --json\``,
    args: [bin, "-f", file, "nodes", "--on", SELECTOR, "--json"],
    check: (out) => {
      const names = (JSON.parse(out) as { nodes: { name: string }[] }).nodes.map((n) => n.name);
      expectEqual(`hive nodes --on '${SELECTOR}': node count`, names.length, expected.length);
      expectEqual(`hive nodes --on '${SELECTOR}': node names`, names, expected);
    },
  },
];
// Informative, no target: jiti caches the compiled hive.ts on disk, so the runs above reuse it. The first run
// after hive.ts changes compiles it again; switching the cache off measures that run.
cases.push({ ...cases[3]!, label: `${cases[3]!.label}, hive.ts just edited (\`JITI_FS_CACHE=false\`)`, env: { JITI_FS_CACHE: "false" } });

// Results go through pipes, as in scripts; NO_COLOR keeps a FORCE_COLOR from the caller out of it.
const env = { ...process.env, NO_COLOR: "1" };
const samples: number[][] = cases.map(() => []);
let failure: string | undefined;

try {
  const rounds = options.warmups + options.runs;
  for (let round = 0; round < rounds; round++) {
    // Alternate the commands and rotate their order, so drift (thermal, caches, other load) hits all alike.
    for (let k = 0; k < cases.length; k++) {
      const index = (round + k) % cases.length;
      const c = cases[index]!;
      const run = timeCommand(process.execPath, c.args, { cwd: dir, env: { ...env, ...c.env } });
      if (run.status !== 0) throw new Error(`${c.label} exited with ${run.status}:\n${run.stderr.trim()}`);
      c.check(run.stdout);
      if (round >= options.warmups) samples[index]!.push(run.ms);
    }
    process.stderr.write(`\rround ${round + 1}/${rounds}${round < options.warmups ? " (warm-up)" : ""}   `);
  }
  process.stderr.write("\n");
} catch (error) {
  failure = error instanceof Error ? error.message : String(error);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (failure !== undefined) {
  process.stderr.write(`\nFAILED: ${failure}\n`);
  process.exit(1);
}

const summaries: Summary[] = samples.map(summarize);
const [nodeBase, hiveVersion, hiveNodes, hiveSelect] = summaries as [Summary, Summary, Summary, Summary, Summary];
const ratio = (s: Summary) => s.median / nodeBase.median;

const targets = [
  {
    label: `\`hive --version\` ≤ ${VERSION_RATIO_TARGET}× \`node -e 0\` (median)`,
    measured: `${ratio(hiveVersion).toFixed(2)}×`,
    met: ratio(hiveVersion) <= VERSION_RATIO_TARGET,
  },
  {
    label: `\`hive nodes\` on 1000 nodes < ${NODES_TARGET_MS} ms (median)`,
    measured: formatMs(hiveNodes.median),
    met: hiveNodes.median < NODES_TARGET_MS,
  },
  {
    label: `\`hive nodes --on … --json\` on 1000 nodes < ${NODES_TARGET_MS} ms (median)`,
    measured: formatMs(hiveSelect.median),
    met: hiveSelect.median < NODES_TARGET_MS,
  },
];

const info = machineInfo(repo);
const body = [
  `Measured ${renderMachineInfo(info)}`,
  "",
  `Each command ran ${options.runs} times after ${options.warmups} warm-up round${options.warmups === 1 ? "" : "s"}.`,
  "The commands alternate round by round, each timed from spawn to exit, all with the same `node` binary",
  "(`node bin/hive ...`). jiti keeps the compiled hive.ts in a disk cache, so the rows before the last one",
  "measure the usual run; the last row measures the first run after hive.ts changed (compiled again).",
  `\`FILE\` is a generated hive.ts with ${fleet.length} literal nodes (web-1..web-400, db-1..db-300, gpu-1..gpu-300;`,
  "tags server, db, ai, eu and us). Reproduce with `npm run build && npx jiti bench/startup.ts`.",
  "",
  "| Command | Median | p90 | Median ÷ `node -e 0` |",
  "| --- | ---: | ---: | ---: |",
  ...cases.map((c, i) => {
    const s = summaries[i]!;
    return `| ${c.label.replaceAll("|", "\\|")} | ${formatMs(s.median)} | ${formatMs(s.p90)} | ${ratio(s).toFixed(2)}× |`;
  }),
  "",
  "| Target | Measured | |",
  "| --- | ---: | --- |",
  ...targets.map((t) => `| ${t.label} | ${t.measured} | ${t.met ? "met" : "**missed**"} |`),
  "",
  `Every run's output was checked: \`--on '${SELECTOR}'\` selected ${expected.length} nodes, the same names in the same`,
  "order as an independent computation (tagged server, name not starting with `web-1`); `hive nodes` listed all",
  `${fleet.length} nodes in order.`,
].join("\n");

process.stdout.write(`\n${body}\n`);
if (options.write) {
  const doc = join(repo, "docs", "benchmarks.md");
  replaceSection(doc, "## Startup", body);
  process.stderr.write(`\nwrote the Startup section of ${doc}\n`);
}
const missed = targets.filter((t) => !t.met);
if (missed.length > 0) {
  process.stderr.write(`\ntarget missed: ${missed.map((t) => t.label).join("; ")}\n`);
  if (options.strict) process.exit(1);
}
