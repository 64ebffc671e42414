// End-to-end: a flake with no hive code builds each node's page from config.hive; hive.ts changes reach only the nodes they affect.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHiveJson, runHive } from "../cli/run-hive.js";
import { LAB_FLAKE_SOURCE } from "../lab/lab-flake.js";
import { LAB_NIX_CONFIG, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { NIXPKGS_LIB } from "../support/nixpkgs-lib.js";
import { fetchFromNode, type HiveFixture, makeHiveFixture } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
let siteFlake: string;
let privateDir: string;
let recipient: string;
const NODES = ["t1", "t2", "t3", "t4"];
const FIXTURE = resolve(import.meta.dirname, "../fixtures/config-hive-flake");


interface ApplyJson {
  nodes: { name: string; result: string; outPath: string | null; error: { code: string; message: string } | null }[];
}

const address = (node: string) => lab.nodes.find((n) => n.name === node)!.address;

function writeHiveTs(tags: Record<string, string[]>, controller: string): void {
  const hive = {
    meta: { flake: siteFlake },
    defaults: { ssh: { identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, connectTimeout: 3 } },
    nodes: Object.fromEntries(NODES.map((n) => [n, { targetHost: address(n), tags: tags[n] }])),
    inventory: { zerotier: { controller, peer: "@web" } },
    vars: {
      recipients: [recipient],
      generators: {
        "ssh-host": { on: "@web", command: ["sh", "-c", 'ssh-keygen -q -t ed25519 -N "" -C "$HIVE_NODE" -f "$out/ed25519"'], files: { ed25519: {}, "ed25519.pub": { secret: false } } },
      },
    },
  };
  writeFileSync(fx.hiveFile, `export default ${JSON.stringify(hive, null, 2)};\n`);
}

const env = () => ({ HIVE_AGE_IDENTITY: join(privateDir, "operator.key") });

function apply() {
  const run = parseHiveJson<ApplyJson>(runHive(["-f", fx.hiveFile, "apply", "--json"], { env: env() }));
  if (run.code !== 0) throw new Error(`hive apply exited ${run.code}:\n${run.stderr}\n${JSON.stringify(run.doc.nodes.map((n) => n.error), null, 2)}`);
  return run;
}

async function pages(): Promise<Record<string, string | undefined>> {
  return Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, (await fetchFromNode(lab, n))?.body] as const)));
}

const hostKey = (node: string) => readFileSync(join(fx.dir, "vars", "nodes", node, "ssh-host", "ed25519.pub"), "utf8").trim();

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, []);
  siteFlake = join(fx.dir, "site");
  spawnSync("mkdir", ["-p", siteFlake]);
  for (const file of ["system.nix", "site.nix", "build.sh"]) copyFileSync(join(FIXTURE, file), join(siteFlake, file));
  for (const file of ["build-system.sh", "switch-to-configuration.sh"]) copyFileSync(join(LAB_FLAKE_SOURCE, file), join(siteFlake, file));
  writeFileSync(join(siteFlake, "flake.nix"), readFileSync(join(FIXTURE, "flake.nix"), "utf8").replace("@NIXPKGS_LIB@", NIXPKGS_LIB));
  writeFileSync(join(siteFlake, "nodes.json"), JSON.stringify(NODES));
  const lock = spawnSync("nix", ["flake", "lock", siteFlake], { env: { ...process.env, NIX_CONFIG: LAB_NIX_CONFIG }, encoding: "utf8" });
  if (lock.status !== 0) throw new Error(`nix flake lock: ${lock.stderr}`);

  privateDir = mkdtempSync(join(homedir(), ".hive-config-hive-e2e-"));
  spawnSync("age-keygen", ["-o", join(privateDir, "operator.key")]);
  recipient = spawnSync("age-keygen", ["-y", join(privateDir, "operator.key")], { encoding: "utf8" }).stdout.trim();
});

afterAll(() => {
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

describe("config.hive in the nodes' systems", () => {
  it("builds each page from the node's tags, roles, the controller's address and its public host key; changes reach only the nodes they affect", async () => {
    const tags = { t1: ["web", "eu"], t2: ["web"], t3: ["db"], t4: ["db"] };
    writeHiveTs(tags, "t3");
    const generated = runHive(["-f", fx.hiveFile, "vars", "generate"], { env: env() });
    expect(generated.code, generated.stderr).toBe(0);

    const first = apply();
    expect(NODES.map((n) => first.byName[n]!.result)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(await pages()).toEqual({
      t1: `t1 tags=web,eu\ncontroller=${address("t3")}\nhostkey=${hostKey("t1")}`,
      t2: `t2 tags=web\ncontroller=${address("t3")}\nhostkey=${hostKey("t2")}`,
      t3: "t3 tags=db\ncontroller of 2 peers",
      t4: "t4 tags=db",
    });

    // A tag: only t1's system changes.
    writeHiveTs({ ...tags, t1: ["web", "eu", "canary"] }, "t3");
    const tagged = apply();
    expect(NODES.map((n) => tagged.byName[n]!.result)).toEqual(["succeeded", "unchanged", "unchanged", "unchanged"]);
    expect(tagged.byName["t1"]!.outPath).not.toBe(first.byName["t1"]!.outPath);
    for (const n of ["t2", "t3", "t4"]) expect(tagged.byName[n]!.outPath).toBe(first.byName[n]!.outPath);
    expect((await pages())["t1"]).toMatch(/^t1 tags=web,eu,canary\n/);

    // A role: the controller moves to t2; the peers and both controllers change, t4 does not.
    writeHiveTs({ ...tags, t1: ["web", "eu", "canary"] }, "t2");
    const moved = apply();
    expect(NODES.map((n) => moved.byName[n]!.result)).toEqual(["succeeded", "succeeded", "succeeded", "unchanged"]);
    expect(await pages()).toEqual({
      t1: `t1 tags=web,eu,canary\ncontroller=${address("t2")}\nhostkey=${hostKey("t1")}`,
      t2: `t2 tags=web\ncontroller=${address("t2")}\ncontroller of 2 peers\nhostkey=${hostKey("t2")}`,
      t3: "t3 tags=db",
      t4: "t4 tags=db",
    });
  });
});
