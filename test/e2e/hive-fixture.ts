// A hive.ts and lab flake for end-to-end tests of hive commands against the shared lab.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execOnNode, makeLabFlake, type Lab, type LabFlakeData } from "../lab/lab.js";

export interface HiveFixture {
  dir: string;
  flakeDir: string;
  hiveFile: string;
}

export interface FixtureNode {
  name: string;
  tags?: string[];
  extra?: Record<string, unknown>;
}

/** A temp dir with a lab flake (one entry per lab node) and a hive.ts pointing at the lab. */
export async function makeHiveFixture(lab: Lab, nodes: FixtureNode[], data: Partial<LabFlakeData> = {}, meta: Record<string, unknown> = {}): Promise<HiveFixture> {
  const dir = mkdtempSync(join(tmpdir(), "hive-e2e-"));
  const flakeDir = await makeLabFlake(join(dir, "flake"), {
    version: data.version ?? "1",
    nodes: data.nodes ?? Object.fromEntries(lab.nodes.map((n) => [n.name, {}])),
  });
  const hiveFile = join(dir, "hive.ts");
  writeHive(hiveFile, lab, flakeDir, nodes, meta);
  return { dir, flakeDir, hiveFile };
}

export function writeHive(hiveFile: string, lab: Lab, flakeDir: string, nodes: FixtureNode[], meta: Record<string, unknown> = {}): void {
  const entries = nodes.map((n) => {
    const address = lab.nodes.find((l) => l.name === n.name)?.address;
    if (!address) throw new Error(`lab has no node ${n.name}`);
    return [n.name, { targetHost: address, tags: n.tags ?? [], ...n.extra }];
  });
  const hive = {
    meta: { flake: flakeDir, ...meta },
    defaults: { ssh: { identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, connectTimeout: 3 } },
    nodes: Object.fromEntries(entries),
  };
  writeFileSync(hiveFile, `export default ${JSON.stringify(hive, null, 2)};\n`);
}

/** The node's real state, read inside its namespaces. */
export async function nodeState(lab: Lab, node: string): Promise<{ current: string; profile: string; generation: number | null; boot: string }> {
  const result = await execOnNode(
    lab,
    node,
    'echo "$(readlink -f /run/current-system)"; echo "$(readlink -f /nix/var/nix/profiles/system)"; echo "$(readlink /nix/var/nix/profiles/system)"; echo "$(readlink -f /nix/var/nix/lab-boot-system)"',
  );
  const [current = "", profile = "", link = "", boot = ""] = result.stdout.split("\n");
  const generation = /-(\d+)-link$/.exec(link)?.[1];
  return { current, profile, generation: generation === undefined ? null : Number(generation), boot };
}

/** What the node's web service answers, fetched from the host over the lab network. */
export async function fetchFromNode(lab: Lab, node: string, path = "/"): Promise<{ status: number; body: string } | null> {
  const address = lab.nodes.find((n) => n.name === node)!.address;
  try {
    const response = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(3000) });
    return { status: response.status, body: (await response.text()).trim() };
  } catch {
    return null;
  }
}
