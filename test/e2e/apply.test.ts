// End-to-end: hive build and hive apply on the lab, judged by each node's real state.
import { spawnSync } from "node:child_process";
import { readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildLabSystem, cutNetwork, execOnNode, labNixEnv, restoreNetwork, setNodeKnobs, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { parseHiveJson, runHive, startHive } from "../cli/run-hive.js";
import { fetchFromNode, type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";
import { countNixCalls } from "./nix-calls.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
const TAGS: Record<string, string[]> = { t1: ["server"], t2: ["server"], t3: ["ai"], t4: ["workstation"], t5: ["batch"], t6: ["batch"] };

interface JsonNode {
  name: string;
  result: string;
  drvPath: string | null;
  outPath: string | null;
  durationMs: number;
  error: { code: string; message: string } | null;
}

function apply(args: string[], env: NodeJS.ProcessEnv = {}) {
  return parseHiveJson<{ goal: string; nodes: JsonNode[] }>(runHive(["-f", fx.hiveFile, ...args, "--json"], { env }));
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name, tags: TAGS[n.name] })), { version: "a1" });
});

describe("hive apply", () => {
  it("switches exactly the server nodes, then reports them unchanged", async () => {
    const before = Object.fromEntries(await Promise.all(["t1", "t2", "t3", "t4"].map(async (n) => [n, await nodeState(lab, n)] as const)));
    const first = apply(["apply", "--on", "@server"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.doc.goal).toBe("switch");
    expect(first.doc.nodes.map((n) => [n.name, n.result])).toEqual([["t1", "succeeded"], ["t2", "succeeded"]]);
    for (const node of ["t1", "t2"]) {
      const state = await nodeState(lab, node);
      expect(state.current).toBe(first.byName[node]!.outPath);
      expect(state.profile).toBe(first.byName[node]!.outPath);
      expect(state.generation).toBe((before[node]!.generation ?? 0) + 1);
      expect(await fetchFromNode(lab, node)).toEqual({ status: 200, body: `${node} a1` });
      // The deployment record of the new generation.
      const record = JSON.parse((await execOnNode(lab, node, `cat /nix/var/hive/deployments/system-${state.generation}.json`)).stdout);
      // The flake as Nix evaluated it: the test flake is outside git, so a path: flake.
      expect(record).toMatchObject({ system: state.current, goal: "switch", hiveFile: fx.hiveFile, flake: `path:${fx.flakeDir}` });
      expect(record.deployedBy).toMatch(/^root@/);
    }
    for (const node of ["t3", "t4"]) expect(await nodeState(lab, node)).toEqual(before[node]);

    const again = apply(["apply", "--on", "@server"]);
    expect(again.code).toBe(0);
    expect(again.doc.nodes.map((n) => n.result)).toEqual(["unchanged", "unchanged"]);
    expect((await nodeState(lab, "t1")).generation).toBe((before["t1"]!.generation ?? 0) + 1);
  });

  it("deploys a new version, and redeploys exactly the node rolled back out of band", async () => {
    await setVersion(fx.flakeDir, "a2");
    const up = apply(["apply", "--on", "@server"]);
    expect(up.code, up.stderr).toBe(0);
    expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 a2" });
    const t1 = await nodeState(lab, "t1");

    // On the node itself: back to the previous generation.
    const rollback = await execOnNode(lab, "t1", "nix-env -p /nix/var/nix/profiles/system --rollback && /nix/var/nix/profiles/system/bin/switch-to-configuration switch");
    expect(rollback.exitCode, rollback.stderr).toBe(0);
    expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 a1" });

    const redeploy = apply(["apply", "--on", "@server"]);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(redeploy.byName["t1"]!.result).toBe("succeeded");
    expect(redeploy.byName["t2"]!.result).toBe("unchanged");
    expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 a2" });
    expect((await nodeState(lab, "t1")).current).toBe(t1.current);
  });

  describe("failures stay on their node", () => {
    afterEach(async () => {
      await restoreNetwork(lab, "t3");
      for (const node of ["t2", "t4"]) await setNodeKnobs(fx.flakeDir, node, {});
    });

    it("without rollback: a cut network, a failing activation and exit code 4 fail only their nodes", async () => {
      await setVersion(fx.flakeDir, "a3");
      await setNodeKnobs(fx.flakeDir, "t2", { failActivation: true });
      await setNodeKnobs(fx.flakeDir, "t4", { unitsFailed: true });
      const before = Object.fromEntries(await Promise.all(["t2", "t3"].map(async (n) => [n, await nodeState(lab, n)] as const)));
      await cutNetwork(lab, "t3");
      const run = apply(["apply", "--on", "t1,t2,t3,t4", "--no-rollback"]);
      expect(run.code).toBe(1);
      expect(run.byName["t1"]!.result).toBe("succeeded");
      expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 a3" });

      expect(run.byName["t2"]!.result).toBe("failed");
      expect(run.byName["t2"]!.error!.message).toMatch(/switch-to-configuration exited 1/);
      const t2 = await nodeState(lab, "t2");
      expect(t2.current).toBe(before["t2"]!.current);
      expect(t2.profile).toBe(t2.current); // the profile names what the node runs

      expect(run.byName["t3"]!.result).toBe("failed");
      expect(run.byName["t3"]!.error!.message).toMatch(/10\.77\.\d+\.\d+|timed out|unreachable|connect/i);

      expect(run.byName["t4"]!.result).toBe("failed");
      expect(run.byName["t4"]!.error!.code).toBe("E_UNITS_FAILED");
      expect(run.byName["t4"]!.error!.message).toContain("hive-lab-web.service");
      const t4 = await nodeState(lab, "t4");
      expect(t4.profile).toBe(t4.current);

      await restoreNetwork(lab, "t3");
      expect(await nodeState(lab, "t3")).toEqual(before["t3"]);
    });

    it("shows the failed node's last log lines and a table without --json", async () => {
      expect(apply(["apply", "--on", "t2"]).code).toBe(0); // something to return to
      await setNodeKnobs(fx.flakeDir, "t2", { failActivation: true, version: "a4-broken" });
      const run = runHive(["-f", fx.hiveFile, "apply", "--on", "t2"]);
      expect(run.code).toBe(1);
      // The cause is said once, in the table row, with the activation's own last line; stderr has the log tail.
      expect(run.stdout).toMatch(/^NODE\s+GOAL\s+RESULT\s+DURATION\s+SYSTEM\s+ERROR/m);
      expect(run.stdout).toMatch(/^t2\s+switch\s+rolled-back\s+.*E_ACTIVATION: switch-to-configuration exited 1: .*\(failActivation is set\); nothing was changed; returned to generation \d+/m);
      expect(run.stderr).toMatch(/^t2 \(E_ACTIVATION\), last lines of its log:$/m);
      expect(run.stderr).toContain("(failActivation is set); nothing was changed");
      const mentions = (run.stdout + run.stderr).split("\n").filter((l) => l.includes("switch-to-configuration exited 1"));
      expect(mentions).toHaveLength(1);
    });
  });

  describe("goals", () => {
    it("boot sets the profile and the next boot, leaves the running system", async () => {
      await setVersion(fx.flakeDir, "b1");
      const before = await nodeState(lab, "t5");
      const run = apply(["apply", "boot", "--on", "t5"]);
      expect(run.code, run.stderr).toBe(0);
      const after = await nodeState(lab, "t5");
      expect(after.profile).toBe(run.byName["t5"]!.outPath);
      expect(after.boot).toBe(run.byName["t5"]!.outPath);
      expect(after.generation).toBe((before.generation ?? 0) + 1);
      expect(after.current).toBe(before.current);
    });

    it("test activates now and leaves the profile", async () => {
      await setVersion(fx.flakeDir, "c1");
      const before = await nodeState(lab, "t6");
      const run = apply(["apply", "test", "--on", "t6"]);
      expect(run.code, run.stderr).toBe(0);
      const after = await nodeState(lab, "t6");
      expect(after.current).toBe(run.byName["t6"]!.outPath);
      expect(after.profile).toBe(before.profile);
      expect(after.generation).toBe(before.generation);
      expect(await fetchFromNode(lab, "t6")).toEqual({ status: 200, body: "t6 c1" });
    });

    it("dry-activate changes nothing", async () => {
      await setVersion(fx.flakeDir, "d1");
      const before = await nodeState(lab, "t6");
      const run = runHive(["-f", fx.hiveFile, "-v", "apply", "dry-activate", "--on", "t6"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain("would restart the following units: hive-lab-web.service");
      expect(await nodeState(lab, "t6")).toEqual(before);
    });

    it("push copies the closure and activates nothing; build touches no node", async () => {
      await setVersion(fx.flakeDir, "e1");
      const build = apply(["build", "--on", "t5"]);
      expect(build.code, build.stderr).toBe(0);
      expect(build.doc.goal).toBe("build");
      const { drvPath, outPath } = build.byName["t5"]!;
      expect(drvPath).toMatch(/^\/nix\/store\/.*\.drv$/);
      expect(outPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-nixos-system-t5-e1$/);
      expect(spawnSync("nix-store", ["--check-validity", outPath!]).status).toBe(0);
      expect((await execOnNode(lab, "t5", `test -e ${outPath}`)).exitCode).not.toBe(0);

      const before = await nodeState(lab, "t5");
      const push = apply(["apply", "push", "--on", "t5"]);
      expect(push.code, push.stderr).toBe(0);
      expect(push.byName["t5"]!.result).toBe("succeeded");
      expect((await execOnNode(lab, "t5", `nix-store --check-validity ${outPath}`)).exitCode).toBe(0);
      expect(await nodeState(lab, "t5")).toEqual(before);
    });

    it("--keep-result keeps a GC root next to hive.ts for each built system", async () => {
      await setVersion(fx.flakeDir, `keep-${Date.now()}`);
      const run = apply(["build", "--on", "t1,t2", "--keep-result"]);
      expect(run.code, run.stderr).toBe(0);
      for (const node of ["t1", "t2"]) {
        const root = join(fx.dir, ".hive", "gcroots", node);
        expect(readlinkSync(root)).toBe(run.byName[node]!.outPath);
        const roots = spawnSync("nix-store", ["--gc", "--print-roots"], { encoding: "utf8" }).stdout;
        expect(roots).toContain(`${root} -> ${run.byName[node]!.outPath}`);
      }
    });

    it("buildOnTarget builds on the node; the output never exists on the deployer", async () => {
      const version = `bot-${Date.now()}`;
      await setVersion(fx.flakeDir, version);
      const run = apply(["apply", "--on", "t3", "--build-on-target"]);
      expect(run.code, run.stderr).toBe(0);
      const outPath = run.byName["t3"]!.outPath!;
      expect(outPath).toContain(version);
      expect(spawnSync("nix-store", ["--check-validity", outPath]).status).not.toBe(0);
      expect((await nodeState(lab, "t3")).current).toBe(outPath);
      expect(await fetchFromNode(lab, "t3")).toEqual({ status: 200, body: `t3 ${version}` });
    });
  });

  it("fails a node whose evaluation fails with Nix's message; the others go on", async () => {
    await setVersion(fx.flakeDir, `eval-${Date.now()}`);
    const file = join(fx.dir, "eval-failure.hive.ts");
    writeHive(file, lab, fx.flakeDir, [{ name: "t5" }, { name: "t6", extra: { system: "nixosConfigurations.t6.config.system.build.nonexistent" } }]);
    const before = await nodeState(lab, "t6");
    const run = runHive(["-f", file, "apply", "--json"]);
    expect(run.code).toBe(1);
    const nodes = Object.fromEntries(JSON.parse(run.stdout).nodes.map((n: JsonNode) => [n.name, n]));
    expect(nodes["t5"].result).toBe("succeeded");
    expect((await nodeState(lab, "t5")).current).toBe(nodes["t5"].outPath);
    expect(nodes["t6"]).toMatchObject({ result: "failed", drvPath: null, error: { code: "E_EVAL" } });
    expect(nodes["t6"].error.message).toMatch(/has no attribute nixosConfigurations\.t6\.config\.system\.build\.nonexistent/);
    expect(await nodeState(lab, "t6")).toEqual(before);
  });

  it("deploys as the non-root sudo user", async () => {
    await setVersion(fx.flakeDir, "f1");
    const file = join(fx.dir, "deploy-user.hive.ts");
    writeHive(file, lab, fx.flakeDir, [{ name: "t4", extra: { targetUser: "deploy" } }]);
    const run = runHive(["-f", file, "apply", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const state = await nodeState(lab, "t4");
    expect(state.current).toBe(JSON.parse(run.stdout).nodes[0].outPath);
    expect(await fetchFromNode(lab, "t4")).toEqual({ status: 200, body: "t4 f1" });
    const record = JSON.parse((await execOnNode(lab, "t4", `cat /nix/var/hive/deployments/system-${state.generation}.json`)).stdout);
    expect(record.system).toBe(state.current);
  });

  it("lets a node substitute from its own cache, and sends only what it could not get", async () => {
    // A binary cache only the node is told about (its root's nix.conf): what it holds, hive must not send.
    const cache = join(lab.dir, `cache-${Date.now()}`);
    const nodeConf = "/root/.config/nix/nix.conf";
    const sent = (run: { stderr: string }) => run.stderr.split("\n").filter((l) => /^t3\s+\|.*copying \d+ of \d+ paths/.test(l));
    try {
      await setNodeKnobs(fx.flakeDir, "t3", { version: "s1" });
      const cached = await buildLabSystem(fx.flakeDir, "t3");
      const copy = spawnSync("nix", ["copy", "--to", `file://${cache}`, cached], { env: labNixEnv(), encoding: "utf8" });
      expect(copy.status, copy.stderr).toBe(0);
      const conf = await execOnNode(lab, "t3", `mkdir -p /root/.config/nix && printf 'substituters = file://${cache}\\nrequire-sigs = false\\n' > ${nodeConf}`);
      expect(conf.exitCode, conf.stderr).toBe(0);

      const substituted = runHive(["-f", fx.hiveFile, "apply", "--on", "t3", "-v"]);
      expect(substituted.code, substituted.stderr).toBe(0);
      expect(sent(substituted)).toEqual([]);
      expect((await nodeState(lab, "t3")).current).toBe(cached);
      expect(await fetchFromNode(lab, "t3")).toEqual({ status: 200, body: "t3 s1" });

      // --no-substitute: the node is not asked to use its cache, and gets the system from hive.
      await setNodeKnobs(fx.flakeDir, "t3", { version: "s2" });
      const next = await buildLabSystem(fx.flakeDir, "t3");
      expect(spawnSync("nix", ["copy", "--to", `file://${cache}`, next], { env: labNixEnv() }).status).toBe(0);
      const pushed = runHive(["-f", fx.hiveFile, "apply", "--on", "t3", "-v", "--no-substitute"]);
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(sent(pushed)).toHaveLength(1);
      expect(sent(pushed)[0]).toContain("copying 1 of 1 paths");
      expect((await nodeState(lab, "t3")).current).toBe(next);
    } finally {
      await execOnNode(lab, "t3", `rm -f ${nodeConf}`);
      await setNodeKnobs(fx.flakeDir, "t3", {});
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("sends nothing of a system whose store contents no longer match their hash; the node stays as it was", async () => {
    const before = await nodeState(lab, "t3");
    const servedBefore = await fetchFromNode(lab, "t3");
    await setNodeKnobs(fx.flakeDir, "t3", { version: `tamper-${Date.now()}` });
    const system = await buildLabSystem(fx.flakeDir, "t3");
    try {
      // As a failing disk would: one file of the built system changes after Nix registered it.
      writeFileSync(join(system, "www", "index.html"), "not what was built\n", { flag: "a" });
      const run = apply(["apply", "--on", "t3"]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.byName["t3"]!.result).toBe("failed");
      expect(run.byName["t3"]!.error?.code).toBe("E_PUSH");
      expect(run.byName["t3"]!.error?.message).toContain(`the contents of ${system} no longer match what the store registered`);
      expect((await execOnNode(lab, "t3", `nix-store --check-validity ${system}`)).exitCode).not.toBe(0);
      expect(await nodeState(lab, "t3")).toEqual(before);
      expect(await fetchFromNode(lab, "t3")).toEqual(servedBefore);
    } finally {
      await setNodeKnobs(fx.flakeDir, "t3", {});
      spawnSync("nix-store", ["--delete", system], { env: labNixEnv() });
    }
  });

  it("evaluates in --eval-workers processes, builds in one invocation, and re-applies from the evaluation cache", async () => {
    await setVersion(fx.flakeDir, `g1-${Date.now()}`);
    const nix = countNixCalls(fx.dir);
    const env = { ...nix.env, XDG_CACHE_HOME: join(fx.dir, "cache") };
    const calls = nix.calls;
    const run = apply(["build", "--eval-workers", "2"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.doc.nodes).toHaveLength(6);
    expect(calls().filter((c) => c.startsWith("nix eval"))).toHaveLength(2); // 6 nodes, 2 workers
    // Builds stream: nodes evaluated while a realise runs go into the next one, so at most one per node.
    const realises = calls().filter((c) => c.startsWith("nix-store --realise")).length;
    expect(realises).toBeGreaterThanOrEqual(1);
    expect(realises).toBeLessThanOrEqual(6);

    nix.reset();
    const again = apply(["build"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc.nodes.map((n) => n.outPath)).toEqual(run.doc.nodes.map((n) => n.outPath));
    expect(calls().filter((c) => c.startsWith("nix eval"))).toHaveLength(0); // every node from the cache
    expect(calls().filter((c) => c.startsWith("nix-store --realise"))).toHaveLength(0); // and already built
  });

  describe("Ctrl-C", () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    async function activationRunning(node: string): Promise<void> {
      for (let i = 0; i < 300; i++) {
        const r = await execOnNode(lab, node, "d=$(ls -t /run/hive/activations 2>/dev/null | head -1); [ -n \"$d\" ] && [ ! -e /run/hive/activations/$d/activation-exit ]");
        if (r.exitCode === 0) return;
        await sleep(100);
      }
      throw new Error(`no activation started on ${node}`);
    }
    afterEach(async () => {
      for (const node of ["t5", "t6"]) await setNodeKnobs(fx.flakeDir, node, {});
    });

    it("first Ctrl-C starts nothing new, lets the running activation finish, prints the table, exits 130", async () => {
      await setVersion(fx.flakeDir, `int-${Date.now()}`);
      for (const node of ["t5", "t6"]) await setNodeKnobs(fx.flakeDir, node, { activationSleep: 2 });
      const before = { t5: await nodeState(lab, "t5"), t6: await nodeState(lab, "t6") };
      const hive = startHive(["-f", fx.hiveFile, "apply", "--on", "t5,t6", "-p", "1"]);
      // One node at a time, whichever is built first: interrupt while the first one activates.
      let first: "t5" | "t6" | undefined;
      for (let i = 0; i < 300 && first === undefined; i++) {
        for (const node of ["t5", "t6"] as const) {
          const r = await execOnNode(lab, node, "d=$(ls -t /run/hive/activations 2>/dev/null | head -1); [ -n \"$d\" ] && [ ! -e /run/hive/activations/$d/activation-exit ]");
          if (r.exitCode === 0) first = node;
        }
        if (first === undefined) await sleep(100);
      }
      if (first === undefined) throw new Error("no activation started on t5 or t6");
      const second = first === "t5" ? "t6" : "t5";
      hive.kill("SIGINT");
      const run = await hive.done;
      expect(run.code).toBe(130);
      expect(run.stderr).toContain("interrupted: starting nothing new");
      expect(run.stdout).toMatch(new RegExp(`^${first}\\s+switch\\s+succeeded`, "m"));
      expect(run.stdout).toMatch(new RegExp(`^${second}\\s+switch\\s+skipped`, "m"));
      const done = await nodeState(lab, first);
      expect(done.current).toBe(done.profile);
      expect(done.current).toContain("int-");
      expect(await nodeState(lab, second)).toEqual(before[second]);
    });

    it("a second Ctrl-C stops waiting; the node returns by itself and ends with a profile naming what it runs", async () => {
      const before = await nodeState(lab, "t5");
      await setVersion(fx.flakeDir, `int2-${Date.now()}`);
      await setNodeKnobs(fx.flakeDir, "t5", { activationSleep: 2 });
      // A short confirmation window, so the node's own revert is seen here (and over before the next test).
      const file = join(fx.dir, "short-window.hive.ts");
      writeHive(file, lab, fx.flakeDir, [{ name: "t5", tags: TAGS["t5"], extra: { confirmTimeout: 3 } }]);
      const hive = startHive(["-f", file, "apply", "--on", "t5"]);
      await activationRunning("t5");
      hive.kill("SIGINT");
      await sleep(200);
      hive.kill("SIGINT");
      const started = Date.now();
      const run = await hive.done;
      expect(run.code).toBe(130);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(run.stderr).toContain("stopped waiting");
      // Nobody confirms: once activation (2 s) and the window (3 s) are over, the node returns by itself.
      let result = "";
      for (let i = 0; i < 100 && result === ""; i++) {
        await sleep(200);
        result = (await execOnNode(lab, "t5", 'd=$(ls -t /run/hive/activations | head -1); cat "/run/hive/activations/$d/result" 2>/dev/null')).stdout.trim();
      }
      expect(result).toBe("reverted-unconfirmed");
      const state = await nodeState(lab, "t5");
      expect(state.current).toBe(before.current);
      expect(state.profile).toBe(before.profile);
    });
  });
});

