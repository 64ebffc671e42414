// End-to-end: flakes as Nix sees them (git+file, ?dir=, tracked files only, self.rev), Nix's own
// errors said once per node without bisection, the evaluation cache, and Ctrl-C during streamed
// evaluation and deployment, on a git monorepo fleet evaluated by nixpkgs' real module system.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { execOnNode, labNixEnv, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { parseHiveJson, runHive, startHive } from "../cli/run-hive.js";
import { fetchFromNode, nodeState } from "./hive-fixture.js";
import { type GitFleet, commit, lockFlake, makeGitFleet, readFleetNodes, setFleetNodes, shortRev } from "./git-fleet.js";
import { type NixCalls, countNixCalls } from "./nix-calls.js";

const getLab = useLab();
let lab: Lab;
let fleet: GitFleet;
let nix: NixCalls;
const NODES = ["t3", "t4", "t5", "t6"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Doc = { nodes: { name: string; result: string; outPath: string | null; error: { code: string; message: string } | null }[] };

function hive(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return parseHiveJson<Doc>(runHive(["-f", fleet.hiveFile, ...args, "--json"], { env: { ...nix.env, XDG_CACHE_HOME: join(fleet.repo, "..", "cache"), ...extraEnv } }));
}
const evaluators = () => nix.calls().filter((c) => c.startsWith("nix eval")).length;

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fleet = makeGitFleet(lab, NODES);
  nix = countNixCalls(join(fleet.repo, ".."));
  const first = hive(["apply"]);
  expect(first.code, first.stderr).toBe(0);
});

describe("flakes as Nix sees them", () => {
  it("deploys a ?dir= flake of a monorepo that imports ../shared; self.rev is the commit", async () => {
    for (const node of NODES) expect(await fetchFromNode(lab, node)).toEqual({ status: 200, body: `${node} v1-${shortRev(fleet)}` });
    const record = JSON.parse((await execOnNode(lab, "t3", `cat /nix/var/hive/deployments/system-$(readlink /nix/var/nix/profiles/system | sed 's/system-\\(.*\\)-link/\\1/').json`)).stdout);
    expect(record).toMatchObject({ flake: `git+file://${fleet.repo}?dir=fleet`, flakeRevision: spawnSync("git", ["-C", fleet.repo, "rev-parse", "HEAD"], { encoding: "utf8" }).stdout.trim(), flakeDirty: false });
  });

  it("never copies a gitignored file into the store; an untracked file changes nothing", async () => {
    mkdirSync(join(fleet.repo, "secrets"), { recursive: true });
    const token = `hive-e2e-secret-${Date.now()}`;
    writeFileSync(join(fleet.repo, "secrets", "token"), token);
    writeFileSync(join(fleet.flakeDir, "override.nix"), `{ node.version = "hacked"; }\n`);
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await nodeState(lab, n)] as const)));
    const run = hive(["apply", "--no-eval-cache"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.doc.nodes.map((n) => n.result)).toEqual(NODES.map(() => "unchanged"));
    for (const node of NODES) expect(await nodeState(lab, node)).toEqual(before[node]);
    // The source Nix evaluated: tracked files only.
    const metadata = spawnSync("nix", ["flake", "metadata", "--json", "--extra-experimental-features", "nix-command flakes", `git+file://${fleet.repo}?dir=fleet`], { env: labNixEnv(), encoding: "utf8" });
    const source = (JSON.parse(metadata.stdout) as { path: string }).path;
    expect(existsSync(join(source, "shared", "base.nix"))).toBe(true);
    expect(existsSync(join(source, "secrets"))).toBe(false);
    expect(existsSync(join(source, "fleet", "override.nix"))).toBe(false);
    const leaked = readdirSync("/nix/store").filter((p) => p.endsWith("-token") || p.endsWith("-secrets"));
    for (const path of leaked) expect(readFileSync(join("/nix/store", path), "utf8")).not.toContain(token);
    rmSync(join(fleet.flakeDir, "override.nix"));
  });
});

describe("Nix's own errors, once", () => {
  it("an error in a module every node imports fails each node once with Nix's message, in at most N+1 processes", async () => {
    const base = join(fleet.repo, "shared", "base.nix");
    const good = readFileSync(base, "utf8");
    writeFileSync(base, good.replace("options.node = {", "options.node = builtins.seq nginxx {"));
    try {
      nix.reset();
      const run = hive(["build", "--no-eval-cache", "--eval-workers", "2"]);
      expect(run.code).toBe(1);
      for (const node of run.doc.nodes) {
        expect(node.result).toBe("failed");
        expect(node.error).toMatchObject({ code: "E_EVAL" });
        expect(node.error!.message).toMatch(new RegExp(`^undefined variable 'nginxx' at ${fleet.repo}/shared/base\\.nix:\\d+:\\d+$`));
      }
      expect(evaluators()).toBeLessThanOrEqual(NODES.length + 1);
      expect(run.stderr.match(/undefined variable 'nginxx'/g) ?? []).toHaveLength(0); // said in the JSON, once per node
    } finally {
      writeFileSync(base, good);
    }
  });

  it("an assertion failure's message is the node's error; a warning is shown once for the nodes that print it", () => {
    const data = readFleetNodes(fleet);
    setFleetNodes(fleet, data.version, { ...data.nodes, t3: { assertFail: true }, t4: { warn: true }, t5: { warn: true } });
    try {
      const run = hive(["build", "--no-eval-cache"]);
      expect(run.code).toBe(1);
      const t3 = run.doc.nodes.find((n) => n.name === "t3")!;
      expect(t3.error).toEqual({ code: "E_EVAL", message: "Failed assertions: - node t3: services.web.port must be set" });
      expect(run.doc.nodes.filter((n) => n.name !== "t3").every((n) => n.result === "succeeded")).toBe(true);
      expect(run.stderr).toContain("warning: t4, t5: services.web.legacyListen is deprecated; use services.web.listen");
      expect(run.stderr.match(/legacyListen/g)).toHaveLength(1);
    } finally {
      setFleetNodes(fleet, data.version, data.nodes);
    }
  });

  it("a flake.lock that needs updating: exit 2, said once, with the fix", () => {
    const flake = join(fleet.flakeDir, "flake.nix");
    const good = readFileSync(flake, "utf8");
    writeFileSync(flake, good.replace("inputs.lib.url", `inputs.extra.url = "path:${fleet.libDir}";\n  inputs.lib.url`).replace("{ self, lib }", "{ self, lib, ... }"));
    try {
      const run = runHive(["-f", fleet.hiveFile, "build"], { env: { ...nix.env } });
      expect(run.code).toBe(2);
      expect(run.stderr.match(/flake\.lock does not match/g)).toHaveLength(1);
      expect(run.stderr).toContain("nix flake lock");
      expect(run.stdout).toBe("");
      expect(spawnSync("git", ["-C", fleet.repo, "status", "--porcelain", "fleet/flake.lock"], { encoding: "utf8" }).stdout).toBe(""); // hive never rewrites it
    } finally {
      writeFileSync(flake, good);
    }
  });
});

describe("the evaluation cache", () => {
  it("hits after no change (no evaluator starts), misses after a tracked file or flake.lock changes, ignores a broken entry", async () => {
    expect(hive(["build"]).code).toBe(0); // fills the cache for this exact tree
    nix.reset();
    const again = hive(["apply"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc.nodes.map((n) => n.result)).toEqual(NODES.map(() => "unchanged"));
    expect(evaluators()).toBe(0);

    // A tracked file changes (uncommitted: a dirty tree is what gets evaluated).
    const data = readFleetNodes(fleet);
    setFleetNodes(fleet, data.version, { ...data.nodes, t3: { activationSleep: 0 } });
    nix.reset();
    expect(hive(["build"]).code).toBe(0);
    expect(evaluators()).toBeGreaterThan(0);
    setFleetNodes(fleet, data.version, data.nodes);

    // flake.lock changes: the locked input's content changed and was relocked.
    writeFileSync(join(fleet.libDir, "NOTE"), "relocked\n");
    lockFlake(fleet, true);
    commit(fleet, "relock");
    nix.reset();
    expect(hive(["build"]).code).toBe(0);
    expect(evaluators()).toBeGreaterThan(0);

    // A broken entry is ignored with a warning, never trusted.
    const cacheDir = join(fleet.repo, "..", "cache", "hive", "eval");
    for (const entry of readdirSync(cacheDir)) writeFileSync(join(cacheDir, entry), '{"drvPath":"/etc/passwd","outPath":"/nix/store/x"}');
    nix.reset();
    const broken = hive(["build"]);
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stderr).toContain("ignoring a broken evaluation cache entry");
    expect(evaluators()).toBeGreaterThan(0);
    for (const node of broken.doc.nodes) expect(node.outPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-nixos-system-/);
  });
});

describe("Ctrl-C during streamed evaluation and deployment", () => {
  it("leaves every node on one generation: the old one or the new one, never in between", async () => {
    const data = readFleetNodes(fleet);
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await nodeState(lab, n)] as const)));
    setFleetNodes(fleet, "v2", Object.fromEntries(NODES.map((n) => [n, { activationSleep: 2 }])));
    commit(fleet, "v2");
    try {
      const run = startHive(["-f", fleet.hiveFile, "apply", "-p", "1", "--eval-workers", "1", "--no-eval-cache"], { env: { ...nix.env } });
      // Interrupt once the first node activates, while the others still wait or evaluate.
      for (let i = 0; i < 600 && !run.stderr().includes("| activate"); i++) await sleep(100);
      run.kill("SIGINT");
      const done = await run.done;
      expect(done.code).toBe(130);
      let newer = 0;
      for (const node of NODES) {
        const state = await nodeState(lab, node);
        expect(state.current, node).toBe(state.profile);
        if (state.current !== before[node]!.current) newer += 1;
        else expect(state).toEqual(before[node]);
      }
      expect(newer).toBeGreaterThanOrEqual(1); // the activation under way finished
      expect(newer).toBeLessThan(NODES.length); // and nothing new started
    } finally {
      setFleetNodes(fleet, data.version, data.nodes);
      commit(fleet, "back to v1");
    }
  });
});
