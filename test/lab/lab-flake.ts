// Lab flakes for tests: self-contained copies of lab/flake.nix with their own nodes.json knobs.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Lab, LabFlakeData, LabNodeKnobs } from "./lab-types.js";
import { runCommand } from "./processes.js";

/** lab/: the demo fleet's flake and the scripts it builds systems from. */
export const LAB_FLAKE_SOURCE = fileURLToPath(new URL("../../lab/", import.meta.url));
const FLAKE_FILES = ["flake.nix", "build-system.sh", "switch-to-configuration.sh"];

/** Nix 2.8 needs these on every call; an empty substituters list stops waits for a cache we cannot reach. */
export const LAB_NIX_CONFIG = "substituters =\nexperimental-features = nix-command flakes";

/** Options for ssh (and Nix's NIX_SSHOPTS) that trust exactly the lab's nodes. */
export function labSshOptions(lab: Lab): string[] {
  return [
    "-i", lab.identityFile,
    "-o", `UserKnownHostsFile=${lab.knownHostsFile}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=5",
    "-o", "BatchMode=yes",
  ];
}

/** Environment for host-side nix calls that talk to lab nodes over ssh. */
export function labNixEnv(lab?: Lab): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NIX_CONFIG: LAB_NIX_CONFIG,
    ...(lab ? { NIX_SSHOPTS: labSshOptions(lab).join(" ") } : {}),
  };
}

async function writeNodesJson(dir: string, data: LabFlakeData): Promise<void> {
  await writeFile(path.join(dir, "nodes.json"), JSON.stringify({ system: "x86_64-linux", ...data }, null, 2) + "\n");
}

async function readNodesJson(dir: string): Promise<LabFlakeData> {
  return JSON.parse(await readFile(path.join(dir, "nodes.json"), "utf8")) as LabFlakeData;
}

/**
 * Writes a flake dir (copies of lab/'s flake files + nodes.json from data) and returns its path;
 * use it as `path:<dir>`. Keep it outside git and small: Nix copies the whole dir on every eval.
 */
export async function makeLabFlake(dir: string, data: LabFlakeData): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(FLAKE_FILES.map((file) => copyFile(path.join(LAB_FLAKE_SOURCE, file), path.join(dir, file))));
  await writeNodesJson(dir, data);
  return dir;
}

/** Replaces one node's knobs in the flake's nodes.json ({} resets it to plain defaults). */
export async function setNodeKnobs(flakeDir: string, node: string, knobs: LabNodeKnobs): Promise<void> {
  const data = await readNodesJson(flakeDir);
  data.nodes[node] = { ...knobs };
  await writeNodesJson(flakeDir, data);
}

/** Sets the fleet-wide version (nodes with their own `version` knob keep theirs). */
export async function setVersion(flakeDir: string, version: string): Promise<void> {
  const data = await readNodesJson(flakeDir);
  data.version = version;
  await writeNodesJson(flakeDir, data);
}

/** Builds a node's lab system on the host and returns its store path. */
export async function buildLabSystem(flakeDir: string, node: string): Promise<string> {
  const installable = `path:${flakeDir}#nixosConfigurations.${node}.config.system.build.toplevel`;
  const { stdout } = await runCommand("nix", ["build", "--no-link", "--json", installable], { env: labNixEnv() });
  const [built] = JSON.parse(stdout) as { outputs: { out: string } }[];
  if (!built) throw new Error(`nix build ${installable} returned nothing`);
  return built.outputs.out;
}
