// CLI for hive's lab fleet: npm run lab -- up [N] | down | status [--name NAME] [--subnet 10.77] [--nodes a,b].
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { LAB_FLAKE_SOURCE } from "./lab-flake.js";
import { LabError, defaultSubnet } from "./lab-layout.js";
import { loadLab } from "./lab-state.js";
import { downLab } from "./down-lab.js";
import { formatLabStatus, labStatus } from "./lab-status.js";
import { upLab } from "./up-lab.js";
import { CommandFailed } from "./processes.js";
import type { Lab } from "./lab-types.js";

const USAGE = `usage: npm run lab -- <command> [options]

  up [N]    bring up (or repair) a lab of N nodes (node-1..node-N)
  down      end the lab's processes, delete its devices and state
  status    show each node's address, sshd and service

options:
  --name NAME       lab name (default demo)
  --subnet A.B      first two octets of the lab's /16 (demo: 10.78, others: 10.77)
  --nodes a,b,c     explicit node names (instead of N)
  --behind h=j,...  node h is reachable only through node j (ssh -J)
  --concurrency K   nodes booted at once (default 8)
  --json            status as JSON

Without N or --nodes, up keeps an existing lab's nodes; a new demo lab gets lab/nodes.json's
fleet, any other new lab 4 nodes. State lives in \${HIVE_LAB_ROOT:-/var/lib/hive-lab}/NAME.`;

/** The demo fleet's node names, in lab/nodes.json order (hive.ts expects them at .1.1 up). */
function readDemoNodeNames(): string[] {
  const data = JSON.parse(readFileSync(path.join(LAB_FLAKE_SOURCE, "nodes.json"), "utf8")) as { nodes: Record<string, unknown> };
  return Object.keys(data.nodes);
}

async function resolveNodes(name: string, count: string | undefined, names: string | undefined): Promise<string[] | number> {
  if (names) return names.split(",").map((n) => n.trim()).filter(Boolean);
  if (count !== undefined) {
    if (!/^\d+$/.test(count)) throw new LabError(`N must be a number of nodes, got "${count}"`);
    return Number(count);
  }
  const existing = await loadLab(name);
  if (existing) return existing.nodes.map((n) => n.name);
  return name === "demo" ? readDemoNodeNames() : 4;
}

/** "h=j,h2=j" → { h: "j", h2: "j" }. */
function parseBehind(value: string): Record<string, string> {
  const pairs = value.split(",").filter(Boolean).map((pair) => pair.split("="));
  if (pairs.some((p) => p.length !== 2 || !p[0] || !p[1])) throw new LabError(`--behind wants hidden=jump pairs, got "${value}"`);
  return Object.fromEntries(pairs as [string, string][]);
}

function existingJumpHosts(lab: Lab | null): Record<string, string> | undefined {
  const hidden = lab?.nodes.filter((n) => n.jumpHost) ?? [];
  return hidden.length > 0 ? Object.fromEntries(hidden.map((n) => [n.name, n.jumpHost!])) : undefined;
}

async function runUp(name: string, count: string | undefined, values: Record<string, string | boolean | undefined>): Promise<void> {
  const existing = await loadLab(name);
  const subnet = (values.subnet as string | undefined) ?? existing?.subnet ?? defaultSubnet(name);
  const nodes = await resolveNodes(name, count, values.nodes as string | undefined);
  const concurrency = values.concurrency ? Number(values.concurrency) : undefined;
  const jumpHosts = values.behind !== undefined ? parseBehind(values.behind as string) : existingJumpHosts(existing);
  const started = performance.now();
  const lab = await upLab({ name, subnet, nodes, concurrency, jumpHosts });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const first = lab.nodes[0]!;
  console.log(`lab ${lab.name} is up: ${lab.nodes.length} nodes on ${lab.subnet}.0.0/16 in ${seconds} s (state: ${lab.dir})`);
  console.log(`try: ssh -F ${lab.sshConfigFile} root@${first.name}   (or deploy@${first.address})`);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string", default: "demo" },
      subnet: { type: "string" },
      nodes: { type: "string" },
      concurrency: { type: "string" },
      behind: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  const name = values.name!;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case "up":
      await runUp(name, rest[0], values);
      return 0;
    case "down":
      await downLab(name);
      console.log(`lab ${name} is down`);
      return 0;
    case "status": {
      const status = await labStatus(name);
      console.log(values.json ? JSON.stringify(status, null, 2) : formatLabStatus(status));
      return status.nodes.every((n) => n.sshdAlive) ? 0 : 1;
    }
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known = error instanceof LabError || error instanceof CommandFailed || (error instanceof Error && error.name === "TypeError" && "code" in error);
    console.error(`lab: ${known ? (error as Error).message : error instanceof Error ? error.stack : String(error)}`);
    if (process.getuid?.() !== 0) console.error("lab: the lab needs root (network and mount namespaces)");
    process.exit(1);
  },
);
