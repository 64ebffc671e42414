// Exec benchmark: `hive exec` against parallel-ssh, ansible and xargs -P ssh on a lab fleet; hive's memory on a big one.
// As root, after `npm run build`: `npx jiti bench/exec.ts [--nodes=50] [--runs=5] [--memory-nodes=500] [--quick] [--no-write]`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downLab, loadLab, upLab, type Lab } from "../test/lab/lab.js";
import { machineInfo, renderMachineInfo, replaceSection } from "./lib/report.js";
import { HIVE_BIN, REPO, requireBenchStart } from "./lib/session.js";
import { formatMs, median } from "./lib/stats.js";

const USAGE = `usage: npx jiti bench/exec.ts [options]   (as root, after npm run build)
  --nodes=N          lab nodes for the comparison (default 50)
  --runs=N           timed runs per tool and command (default 5, after 1 warm-up)
  --memory-nodes=M   nodes for hive's peak memory (default 500; 0 skips it)
  --quick            3 runs, 10 nodes, no memory run, docs/benchmarks.md left alone
  --no-write         do not update docs/benchmarks.md
  --keep-lab         leave the lab up afterwards (npm run lab -- down --name ${"bexec"} removes it)
  --install          apt-get install the peers first (pssh, ansible-core, time, openssh-client)
  --strict           exit 1 when a target is missed`;

const LAB_NAME = "bexec";
const LAB_SUBNET = "10.83";
const PARALLEL = 50;
const WALL_RATIO_TARGET = 0.7;
const CPU_PER_NODE_TARGET_MS = 20;

interface Options {
  nodes: number;
  runs: number;
  memoryNodes: number;
  write: boolean;
  keepLab: boolean;
  install: boolean;
  strict: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const options: Options = { nodes: quick ? 10 : 50, runs: quick ? 3 : 5, memoryNodes: quick ? 0 : 500, write: !quick, keepLab: false, install: false, strict: false };
  for (const arg of argv) {
    const number = (prefix: string) => (new RegExp(`^${prefix}=[0-9]+$`).test(arg) ? Number(arg.slice(prefix.length + 1)) : undefined);
    if (arg === "--quick") continue;
    else if (arg === "--no-write") options.write = false;
    else if (arg === "--keep-lab") options.keepLab = true;
    else if (arg === "--install") options.install = true;
    else if (arg === "--strict") options.strict = true;
    else if (number("--nodes") !== undefined && number("--nodes")! > 0) options.nodes = number("--nodes")!;
    else if (number("--runs") !== undefined && number("--runs")! > 0) options.runs = number("--runs")!;
    else if (number("--memory-nodes") !== undefined) options.memoryNodes = number("--memory-nodes")!;
    else {
      const help = arg === "--help" || arg === "-h";
      process.stderr.write(`${help ? "" : `unknown argument ${arg}\n`}${USAGE}\n`);
      process.exit(help ? 0 : 2);
    }
  }
  return options;
}

/** One measured run of a client: wall clock, CPU of its whole process tree, largest resident set in it. */
interface Measured {
  wallMs: number;
  cpuMs: number;
  maxRssKiB: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv under GNU time: its user+system times are those of every descendant that was waited for
 * (ssh children of pssh, ansible's workers and their ssh), which is the client's whole process tree.
 */
function measure(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Measured {
  const out = join(cwd, "time.out");
  const start = process.hrtime.bigint();
  const result = spawnSync("/usr/bin/time", ["-f", "%U %S %M", "-o", out, ...argv], { cwd, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.error) throw result.error;
  const [user = "0", system = "0", rss = "0"] = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ");
  return { wallMs, cpuMs: (Number(user) + Number(system)) * 1000, maxRssKiB: Number(rss), status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Tool {
  label: string;
  argv: (command: string, parallel?: number) => string[];
  env: NodeJS.ProcessEnv;
  /** Throws unless every node ran the command with exit 0 (and printed the output). */
  check: (run: Measured, command: string, nodes: number) => void;
}

function fail(what: string, run: Measured, why: string): never {
  throw new Error(`${what}: ${why} (exit ${run.status})\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
}

function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line)).length;
}

function makeTools(lab: Lab, dir: string, hiveBin: string): Tool[] {
  const hosts = join(dir, "hosts");
  const inventory = join(dir, "inventory.ini");
  writeFileSync(hosts, lab.nodes.map((n) => n.address).join("\n") + "\n");
  writeFileSync(inventory, `[lab]\n${lab.nodes.map((n) => n.address).join("\n")}\n`);
  writeFileSync(
    join(dir, "hive.ts"),
    `export default ${JSON.stringify({
      defaults: { ssh: { identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, connectTimeout: 30 } },
      nodes: Object.fromEntries(lab.nodes.map((n) => [n.name, { targetHost: n.address }])),
    })};\n`,
  );
  // Same key, same known_hosts, strict host key checking, no agent, for every tool.
  const base: NodeJS.ProcessEnv = { PATH: process.env["PATH"], HOME: process.env["HOME"], LANG: "C.UTF-8", NO_COLOR: "1" };
  const sshOptions = ["IdentitiesOnly=yes", `IdentityFile=${lab.identityFile}`, `UserKnownHostsFile=${lab.knownHostsFile}`, "StrictHostKeyChecking=yes", "BatchMode=yes"];
  const loadLine = /load average/;
  return [
    {
      label: "hive exec",
      argv: (command, parallel = PARALLEL) => [process.execPath, hiveBin, "-f", join(dir, "hive.ts"), "exec", "-p", String(parallel), "--", command],
      env: base,
      check: (run, command, nodes) => {
        if (run.status !== 0) fail("hive exec", run, "not every node exited 0");
        if (!new RegExp(`^${nodes} nodes in [0-9.]+s: ${nodes} exit 0$`, "m").test(run.stderr)) fail("hive exec", run, "summary does not say every node exited 0");
        if (command === "uptime" && count(run.stdout, loadLine) !== nodes) fail("hive exec", run, "not one uptime line per node");
      },
    },
    {
      label: "parallel-ssh (pssh)",
      argv: (command) => ["parallel-ssh", "-h", hosts, "-l", "root", "-p", String(PARALLEL), "-t", "0", ...sshOptions.flatMap((o) => ["-O", o]), "-i", command],
      env: base,
      check: (run, command, nodes) => {
        if (run.status !== 0) fail("parallel-ssh", run, "failed");
        if (count(run.stdout, /\[SUCCESS\]/) !== nodes) fail("parallel-ssh", run, "not every node succeeded");
        if (command === "uptime" && count(run.stdout, loadLine) !== nodes) fail("parallel-ssh", run, "not one uptime line per node");
      },
    },
    {
      label: "ansible -m command",
      argv: (command) => ["ansible", "all", "-i", inventory, "-f", String(PARALLEL), "-m", "command", "-a", command],
      env: {
        ...base,
        // Its best settings for ad-hoc commands, but fresh connections like the others (no ControlPersist master).
        ANSIBLE_SSH_ARGS: ["-o ControlMaster=no", "-o ControlPersist=no", ...sshOptions.map((o) => `-o ${o}`)].join(" "),
        ANSIBLE_HOST_KEY_CHECKING: "True",
        ANSIBLE_PIPELINING: "True",
        ANSIBLE_REMOTE_USER: "root",
        ANSIBLE_PYTHON_INTERPRETER: "/usr/bin/python3",
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_LOCAL_TEMP: join(dir, "ansible-tmp"),
      },
      check: (run, command, nodes) => {
        if (run.status !== 0) fail("ansible", run, "failed");
        if (count(run.stdout, /\| CHANGED \| rc=0 >>/) !== nodes) fail("ansible", run, "not every node reported rc=0");
        if (command === "uptime" && count(run.stdout, loadLine) !== nodes) fail("ansible", run, "not one uptime line per node");
      },
    },
    {
      label: "xargs -P ssh",
      // xargs reads the host list on stdin.
      argv: (command) => ["sh", "-c", `exec "$@" < "$0"`, hosts, "xargs", "-P", String(PARALLEL), "-I{}", "ssh", ...sshOptions.flatMap((o) => ["-o", o]), "root@{}", command],
      env: base,
      check: (run, command, nodes) => {
        if (run.status !== 0) fail("xargs", run, "failed");
        if (command === "uptime" && count(run.stdout, loadLine) !== nodes) fail("xargs", run, "not one uptime line per node");
      },
    },
  ];
}

function requireTools(install: boolean): void {
  const packages: Record<string, string> = { "parallel-ssh": "pssh", ansible: "ansible-core", "/usr/bin/time": "time", ssh: "openssh-client", xargs: "findutils" };
  const missing = () => Object.keys(packages).filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (install && missing().length > 0) {
    const names = missing().map((t) => packages[t]!);
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    spawnSync("apt-get", ["install", "-y", "-qq", ...names], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  const still = missing();
  if (still.length > 0) {
    process.stderr.write(`error: missing ${still.join(", ")}; install them with: apt-get install -y ${[...new Set(still.map((t) => packages[t]!))].join(" ")} (or pass --install)\n`);
    process.exit(2);
  }
}

const options = parseOptions(process.argv.slice(2));
const repo = REPO;
const hiveBin = HIVE_BIN;
requireBenchStart("the exec benchmark brings up a lab fleet");
requireTools(options.install);

const labExisted = (await loadLab(LAB_NAME)) !== null;
const dir = mkdtempSync(join(tmpdir(), "hive-bench-exec-"));
const commands = ["true", "uptime"];
interface Row {
  tool: string;
  command: string;
  wall: number[];
  cpu: number[];
  rss: number[];
}
const rows: Row[] = [];
let memory: { nodes: number; parallel: number; wallMs: number; cpuMs: number; maxRssKiB: number }[] = [];
let failure: string | undefined;

try {
  process.stderr.write(`bringing up lab ${LAB_NAME} with ${options.nodes} nodes...\n`);
  let lab = await upLab({ name: LAB_NAME, subnet: LAB_SUBNET, nodes: options.nodes, concurrency: 16 });
  const tools = makeTools(lab, dir, hiveBin);
  for (const command of commands) for (const tool of tools) rows.push({ tool: tool.label, command, wall: [], cpu: [], rss: [] });
  const rounds = 1 + options.runs;
  for (let round = 0; round < rounds; round++) {
    for (const command of commands) {
      // Rotate the order each round so drift (caches, other load) hits every tool alike.
      for (let k = 0; k < tools.length; k++) {
        const tool = tools[(round + k) % tools.length]!;
        const argv = tool.argv(command);
        const run = measure(argv, tool.env, dir);
        tool.check(run, command, lab.nodes.length);
        if (round === 0) continue;
        const row = rows.find((r) => r.tool === tool.label && r.command === command)!;
        row.wall.push(run.wallMs);
        row.cpu.push(run.cpuMs);
        row.rss.push(run.maxRssKiB);
      }
    }
    process.stderr.write(`\rround ${round + 1}/${rounds}${round === 0 ? " (warm-up)" : ""}   `);
  }
  process.stderr.write("\n");

  if (options.memoryNodes > 0) {
    process.stderr.write(`bringing up lab ${LAB_NAME} with ${options.memoryNodes} nodes for the memory run...\n`);
    lab = await upLab({ name: LAB_NAME, subnet: LAB_SUBNET, nodes: options.memoryNodes, concurrency: 32 });
    const [hive] = makeTools(lab, dir, hiveBin);
    for (const parallel of [PARALLEL, options.memoryNodes]) {
      const samples: Measured[] = [];
      for (let i = 0; i < 3; i++) {
        const run = measure(hive!.argv("true", parallel), hive!.env, dir);
        hive!.check(run, "true", lab.nodes.length);
        samples.push(run);
      }
      memory.push({
        nodes: lab.nodes.length,
        parallel,
        wallMs: median(samples.map((s) => s.wallMs)),
        cpuMs: median(samples.map((s) => s.cpuMs)),
        maxRssKiB: Math.max(...samples.map((s) => s.maxRssKiB)),
      });
    }
  }
} catch (error) {
  failure = error instanceof Error ? error.message : String(error);
  memory = [];
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (!options.keepLab && !labExisted) await downLab(LAB_NAME);
  else if (!options.keepLab) process.stderr.write(`lab ${LAB_NAME} was up before the bench; left up\n`);
}

if (failure !== undefined) {
  process.stderr.write(`\nFAILED: ${failure}\n`);
  process.exit(1);
}

const nodes = options.nodes;
const med = (row: Row) => ({ wall: median(row.wall), cpu: median(row.cpu), rss: Math.max(...row.rss) });
const find = (tool: string, command: string) => med(rows.find((r) => r.tool === tool && r.command === command)!);
const table = [
  "| Tool | Command | Wall (median) | Wall ÷ parallel-ssh | Client CPU (median) | CPU per node | Largest process RSS |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((row) => {
    const m = med(row);
    const pssh = find("parallel-ssh (pssh)", row.command);
    return `| ${row.tool} | \`${row.command}\` | ${formatMs(m.wall)} | ${(m.wall / pssh.wall).toFixed(2)}× | ${formatMs(m.cpu)} | ${(m.cpu / nodes).toFixed(1)} ms | ${(m.rss / 1024).toFixed(0)} MiB |`;
  }),
];

const targets = commands.flatMap((command) => {
  const hive = find("hive exec", command);
  const pssh = find("parallel-ssh (pssh)", command);
  return [
    {
      label: `\`hive exec -- ${command}\` wall ≤ ${WALL_RATIO_TARGET}× parallel-ssh's`,
      measured: `${(hive.wall / pssh.wall).toFixed(2)}×`,
      met: hive.wall <= WALL_RATIO_TARGET * pssh.wall,
    },
    {
      label: `\`hive exec -- ${command}\` client CPU ≤ ${CPU_PER_NODE_TARGET_MS} ms per node`,
      measured: `${(hive.cpu / nodes).toFixed(1)} ms`,
      met: hive.cpu / nodes <= CPU_PER_NODE_TARGET_MS,
    },
  ];
});

const info = machineInfo(repo);
const body = [
  `Measured ${renderMachineInfo(info)}`,
  "",
  `${nodes} lab nodes (each its own network namespace and sshd, on this machine), every tool at parallelism ${PARALLEL}, with the`,
  "same client key and known_hosts, strict host key checking and no ssh-agent; fresh connections on every run",
  "(ansible without its ControlPersist master, with pipelining and a fixed Python interpreter). Each tool and",
  `command ran ${options.runs} times after a warm-up round, the tools in rotating order. Wall is spawn to exit; client CPU`,
  "is user + system time of the client's whole process tree (GNU time: pssh's and xargs's ssh children,",
  "ansible's workers), divided by the node count for the per-node figure. Every run's output was checked:",
  "every node exited 0, and for `uptime` every node's line came back. The lab's sshds run on the same CPUs,",
  "so server-side work competes with the clients. Reproduce as root with `npm run build && npx jiti bench/exec.ts`",
  "(`--install` installs pssh, ansible-core and GNU time from Debian).",
  "",
  ...table,
  "",
  "| Target | Measured | |",
  "| --- | ---: | --- |",
  ...targets.map((t) => `| ${t.label} | ${t.measured} | ${t.met ? "met" : "**missed**"} |`),
  ...(memory.length > 0
    ? [
        "",
        `Peak memory: \`hive exec -- true\` on ${memory[0]!.nodes} lab nodes (the most this bench brings up), 3 runs each, the largest`,
        "resident set of the hive process:",
        "",
        "| Nodes | `-p` | Wall (median) | Client CPU (median) | CPU per node | Peak RSS |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ...memory.map(
          (m) => `| ${m.nodes} | ${m.parallel} | ${formatMs(m.wallMs)} | ${formatMs(m.cpuMs)} | ${(m.cpuMs / m.nodes).toFixed(1)} ms | ${(m.maxRssKiB / 1024).toFixed(0)} MiB |`,
        ),
      ]
    : []),
].join("\n");

process.stdout.write(`\n${body}\n`);
if (options.write) {
  const doc = join(repo, "docs", "benchmarks.md");
  replaceSection(doc, "## Exec", body);
  process.stderr.write(`\nwrote the Exec section of ${doc}\n`);
}
const missed = targets.filter((t) => !t.met);
if (missed.length > 0) {
  process.stderr.write(`\ntarget missed: ${missed.map((t) => t.label).join("; ")}\n`);
  if (options.strict) process.exit(1);
}
