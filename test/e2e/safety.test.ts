// End-to-end: health checks, automatic and dead-man rollback, rolling batches, rollback, check, node lock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cutNetwork,
  downLab,
  execOnNode,
  findFreeSubnet,
  restoreNetwork,
  setNodeKnobs,
  setVersion,
  upLab,
  type Lab,
} from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { parseHiveJson, runHive, startHive } from "../cli/run-hive.js";
import { confirmScript, launchScript } from "../../src/activation/supervisor.js";
import { fetchFromNode, type FixtureNode, type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WEB_CHECK = { web: { http: { port: 80, path: "/health" }, timeout: 1, interval: 0.5, deadline: 4 } };
const CONFIRM = 3;

function fleet(lab: Lab): FixtureNode[] {
  return lab.nodes.map((n) => ({ name: n.name, extra: { healthChecks: WEB_CHECK, confirmTimeout: CONFIRM } }));
}

function applyJson(args: string[], file = fx.hiveFile, env: NodeJS.ProcessEnv = {}) {
  type Doc = { nodes: { name: string; result: string; outPath: string | null; error: { code: string; message: string } | null }[] };
  return parseHiveJson<Doc>(runHive(["-f", file, ...args, "--json"], { env }));
}

/** Deploy `version` to the nodes (healthy), so there is a previous generation to return to. */
async function deployBaseline(nodes: string[], version: string) {
  await setVersion(fx.flakeDir, version);
  for (const node of nodes) await setNodeKnobs(fx.flakeDir, node, {});
  const run = applyJson(["apply", "--on", nodes.join(",")]);
  expect(run.code, run.stderr).toBe(0);
  return Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await nodeState(lab, n)] as const)));
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function activationStarted(node: string): Promise<string> {
  return waitFor(`an activation on ${node}`, async () => {
    const r = await execOnNode(lab, node, "ls -t /run/hive/activations 2>/dev/null | head -1");
    const id = r.stdout.trim();
    if (id === "") return null;
    const exit = await execOnNode(lab, node, `test -e /run/hive/activations/${id}/activation-exit`);
    return exit.exitCode !== 0 ? id : null; // started and still activating
  });
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, fleet(lab), { version: "s0" });
});

describe("automatic rollback", () => {
  it("a failing health check after switch returns the node to its previous generation", async () => {
    const before = (await deployBaseline(["t1"], "s1"))["t1"]!;
    expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 s1" });
    await setVersion(fx.flakeDir, "s2");
    await setNodeKnobs(fx.flakeDir, "t1", { unhealthy: true });
    const run = applyJson(["apply", "--on", "t1"]);
    expect(run.code).toBe(1);
    expect(run.byName["t1"]!.result).toBe("rolled-back");
    expect(run.byName["t1"]!.error!.message).toMatch(/health check web failed: status 404/);
    const after = await nodeState(lab, "t1");
    expect(after.current).toBe(before.current);
    expect(after.profile).toBe(before.profile);
    expect(after.generation).toBe(before.generation); // the profile is back on the previous generation
    expect(await fetchFromNode(lab, "t1")).toEqual({ status: 200, body: "t1 s1" });
  });

  it("a failing activation returns the node to its previous generation", async () => {
    const before = (await deployBaseline(["t2"], "s3"))["t2"]!;
    await setVersion(fx.flakeDir, "s4");
    await setNodeKnobs(fx.flakeDir, "t2", { failActivation: true });
    const run = applyJson(["apply", "--on", "t2"]);
    expect(run.code).toBe(1);
    expect(run.byName["t2"]!.result).toBe("rolled-back");
    const after = await nodeState(lab, "t2");
    expect(after.current).toBe(before.current);
    expect(after.profile).toBe(before.profile);
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 s3" });
  });

  it("test goal: a failing check re-activates the previously running system, profile untouched", async () => {
    const before = (await deployBaseline(["t2"], "s5"))["t2"]!;
    await setVersion(fx.flakeDir, "s6");
    await setNodeKnobs(fx.flakeDir, "t2", { unhealthy: true });
    const run = applyJson(["apply", "test", "--on", "t2"]);
    expect(run.byName["t2"]!.result).toBe("rolled-back");
    expect(await nodeState(lab, "t2")).toEqual(before);
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 s5" });
  });
});

describe("dead-man rollback", () => {
  it("a node cut off during activation returns to its previous generation by itself", async () => {
    const before = (await deployBaseline(["t3"], "d1"))["t3"]!;
    await setVersion(fx.flakeDir, "d2");
    await setNodeKnobs(fx.flakeDir, "t3", { activationSleep: 2 });
    const hive = startHive(["-f", fx.hiveFile, "apply", "--on", "t3", "--json"]);
    try {
      await activationStarted("t3");
      await cutNetwork(lab, "t3");
      const run = await hive.done;
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).nodes[0].result).toMatch(/failed|rolled-back/);
      // Activation ends ~2 s after it started; the node waits CONFIRM s more, then reverts.
      await sleep((2 + CONFIRM + 3) * 1000);
    } finally {
      await restoreNetwork(lab, "t3");
    }
    const after = await nodeState(lab, "t3");
    expect(after.current).toBe(before.current);
    expect(after.profile).toBe(before.profile);
    expect(await fetchFromNode(lab, "t3")).toEqual({ status: 200, body: "t3 d1" });
  });

  it("a node whose deployer is killed (SIGKILL) during activation returns by itself", async () => {
    const before = (await deployBaseline(["t4"], "k1"))["t4"]!;
    await setVersion(fx.flakeDir, "k2");
    await setNodeKnobs(fx.flakeDir, "t4", { activationSleep: 2 });
    const hive = startHive(["-f", fx.hiveFile, "apply", "--on", "t4"]);
    const id = await activationStarted("t4");
    hive.kill("SIGKILL");
    await hive.done;
    const result = await waitFor(
      "the node's own decision",
      async () => (await execOnNode(lab, "t4", `cat /run/hive/activations/${id}/result 2>/dev/null`)).stdout.trim(),
      (2 + CONFIRM + 8) * 1000,
    );
    expect(result).toBe("reverted-unconfirmed");
    expect((await nodeState(lab, "t4")).current).toBe(before.current);
    const after = await nodeState(lab, "t4");
    expect(after.profile).toBe(before.profile);
    expect(await fetchFromNode(lab, "t4")).toEqual({ status: 200, body: "t4 k1" });
  });

  it("an instant activation stays on the new system after the confirmation window", async () => {
    await deployBaseline(["t5"], "i1");
    await setVersion(fx.flakeDir, "i2");
    const run = applyJson(["apply", "--on", "t5"]);
    expect(run.code, run.stderr).toBe(0);
    await sleep((CONFIRM + 2) * 1000);
    const after = await nodeState(lab, "t5");
    expect(after.current).toBe(run.byName["t5"]!.outPath);
    expect(await fetchFromNode(lab, "t5")).toEqual({ status: 200, body: "t5 i2" });
  });

  it("node-side protocol: an early confirmation and one shortly before the deadline both keep the new system", async () => {
    for (const [version, confirmAt] of [["p1", "early"], ["p2", "late"]] as const) {
      await setVersion(fx.flakeDir, version);
      await setNodeKnobs(fx.flakeDir, "t6", { activationSleep: confirmAt === "early" ? 2 : 0 });
      const push = applyJson(["apply", "push", "--on", "t6"]);
      expect(push.code, push.stderr).toBe(0);
      const system = push.byName["t6"]!.outPath!;
      const id = `test-${version}-${Date.now()}`;
      const options = {
        id,
        profile: "/nix/var/nix/profiles/system",
        system,
        goal: "switch" as const,
        profile_action: { kind: "set" as const },
        confirmTimeout: 4,
        rollbackOnFailure: true,
        writeRecord: false,
      };
      const launched = await execOnNode(lab, "t6", launchScript(options, "{}"));
      expect(launched.exitCode, launched.stderr).toBe(0);
      const dir = `/run/hive/activations/${id}`;
      if (confirmAt === "late") {
        await waitFor("activation to end", async () => (await execOnNode(lab, "t6", `test -e ${dir}/activation-exit`)).exitCode === 0);
        await sleep(3200); // 0.8 s before the 4 s deadline
      }
      const confirmed = await execOnNode(lab, "t6", confirmScript(id));
      expect(confirmed.exitCode, confirmed.stdout).toBe(0);
      const result = await waitFor("the supervisor's result", async () => (await execOnNode(lab, "t6", `cat ${dir}/result 2>/dev/null`)).stdout.trim(), 20_000);
      expect(result).toBe("confirmed");
      await sleep(1500);
      expect((await nodeState(lab, "t6")).current).toBe(system);
      expect(await fetchFromNode(lab, "t6")).toEqual({ status: 200, body: `t6 ${version}` });
    }
  });
});

describe("hive rollback and hive check", () => {
  it("rollback returns to the previous generation, and --to to a given one", async () => {
    const first = (await deployBaseline(["t5"], "r1"))["t5"]!;
    const second = (await deployBaseline(["t5"], "r2"))["t5"]!;
    expect(second.generation).toBe(first.generation! + 1);
    const back = applyJson(["rollback", "--on", "t5"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.byName["t5"]!.result).toBe("succeeded");
    const now = await nodeState(lab, "t5");
    expect(now.current).toBe(first.current);
    expect(now.generation).toBe(first.generation);
    expect(await fetchFromNode(lab, "t5")).toEqual({ status: 200, body: "t5 r1" });

    const forward = applyJson(["rollback", "--on", "t5", "--to", String(second.generation)]);
    expect(forward.code, forward.stderr).toBe(0);
    expect((await nodeState(lab, "t5")).current).toBe(second.current);

    const missing = applyJson(["rollback", "--on", "t5", "--to", "999"]);
    expect(missing.code).toBe(1);
    expect(missing.byName["t5"]!.error!.message).toMatch(/no generation 999/);
  });

  it("check reports each check and exits 1 when one fails", async () => {
    await deployBaseline(["t1", "t2"], "c1");
    const healthy = runHive(["-f", fx.hiveFile, "check", "--on", "t1,t2", "--json"]);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout).nodes.map((n: { name: string; healthy: boolean }) => [n.name, n.healthy])).toEqual([["t1", true], ["t2", true]]);
    await execOnNode(lab, "t2", "kill $(cat /run/hive-lab-web.pid)");
    const sick = runHive(["-f", fx.hiveFile, "check", "--on", "t1,t2"]);
    expect(sick.code).toBe(1);
    // A passing check shows what it saw too; a failing one how many attempts it made.
    expect(sick.stdout).toMatch(/^t1\s+web\s+pass\s+1\s+\d+ ms\s+\S/m);
    expect(sick.stdout).toMatch(/^t2\s+web\s+FAIL\s+\d+\s+\d+ ms\s+GET http:\/\/[\d.]+:80\/health: ECONNREFUSED/m);
    expect(sick.stderr).toContain("1/2 nodes healthy; failing: t2");
    // --fast: one attempt, for cron.
    const fast = runHive(["-f", fx.hiveFile, "check", "--on", "t2", "--fast", "--json"]);
    expect(fast.code).toBe(1);
    expect(JSON.parse(fast.stdout).nodes[0].checks[0]).toMatchObject({ name: "web", passed: false, attempts: 1 });
  });
});

describe("node lock", () => {
  it("refuses a concurrent apply from a second process, naming the holder", async () => {
    await deployBaseline(["t1"], "l1");
    await setVersion(fx.flakeDir, "l2");
    await setNodeKnobs(fx.flakeDir, "t1", { activationSleep: 3 });
    const first = startHive(["-f", fx.hiveFile, "apply", "--on", "t1"]);
    await activationStarted("t1");
    const other = applyJson(["apply", "--on", "t1"], fx.hiveFile, { HOME: fx.dir });
    expect(other.code).toBe(1);
    expect(other.byName["t1"]!.error!.code).toBe("E_LOCKED");
    expect(other.byName["t1"]!.error!.message).toMatch(new RegExp(`locked by another hive run: root@\\S+, pid ${first.pid}, since \\d{4}-`));
    expect((await first.done).code).toBe(0);
    await setNodeKnobs(fx.flakeDir, "t1", {});
  });

  it("a run killed during its health checks leaves the node to return by itself; the next run takes over its stale lock", async () => {
    const baseline = (await deployBaseline(["t2"], "m1"))["t2"]!;
    const slow = `${fx.dir}/slow-check.hive.ts`;
    // The node waits for hive's decision for confirmTimeout plus the longest check's deadline: 1 + 8 s.
    writeHive(slow, lab, fx.flakeDir, [{ name: "t2", extra: { confirmTimeout: 1, healthChecks: { slow: { cmd: "sleep 6", timeout: 8, deadline: 8 } } } }]);
    await setVersion(fx.flakeDir, "m2");
    const hive = startHive(["-f", slow, "apply", "--on", "t2"]);
    await waitFor("the health check phase", async () => hive.stderr().includes("t2 | check"), 60_000);
    const holder = await execOnNode(lab, "t2", "cat /run/hive/lock.json");
    expect(holder.stdout).toContain(`"pid":${hive.pid}`);
    // The node runs the new system, unconfirmed: killed now, hive never confirms it.
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 m2" });
    hive.kill("SIGKILL");
    await hive.done;

    // While the node waits out its window, another run is told so, and changes nothing.
    const during = applyJson(["apply", "--on", "t2"]);
    expect(during.code).toBe(1);
    expect(during.byName["t2"]!.error).toMatchObject({ code: "E_LOCKED" });
    expect(during.byName["t2"]!.error!.message).toMatch(/an activation is still running on the node/);

    // Nobody confirmed: the node returns to the system that passed its checks, by itself.
    await waitFor("the node's own revert", async () => (await execOnNode(lab, "t2", 'd=$(ls -t /run/hive/activations | head -1); cat "/run/hive/activations/$d/result" 2>/dev/null')).stdout.trim() === "reverted-unconfirmed", 30_000);
    const after = await nodeState(lab, "t2");
    expect(after.current).toBe(baseline.current);
    expect(after.profile).toBe(baseline.profile);
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 m1" });

    // Hence a re-apply is a real deploy (not "unchanged"), and takes over the dead run's lock.
    const next = runHive(["-f", fx.hiveFile, "apply", "--on", "t2"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(new RegExp(`t2: took over a stale lock \\(root@\\S+, pid ${hive.pid}, since`));
    expect(next.stdout).toMatch(/^t2\s+switch\s+succeeded/m);
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 m2" });
  });

  it("a node already on the desired system still has its checks run: a dead service is no success", async () => {
    await deployBaseline(["t3"], "h1");
    const state = await nodeState(lab, "t3");
    const killed = await execOnNode(lab, "t3", 'kill "$(cat /run/hive-lab-web.pid)"');
    expect(killed.exitCode).toBe(0);
    const run = applyJson(["apply", "--on", "t3"]);
    expect(run.code).toBe(1);
    expect(run.byName["t3"]).toMatchObject({ result: "failed", error: { code: "E_HEALTH" } });
    expect(run.byName["t3"]!.error!.message).toMatch(/already runs the desired system, but health check web fails/);
    expect(await nodeState(lab, "t3")).toEqual(state); // nothing was changed
    await execOnNode(lab, "t3", "/run/current-system/bin/switch-to-configuration test");
  });

  it("a run that lost its lock to --force-unlock stops before changing the node; the other run's deploy stands", async () => {
    await deployBaseline(["t4"], "k1");
    await setVersion(fx.flakeDir, "k2");
    // Run A is stopped (SIGSTOP, a laptop asleep) while it pushes its closure...
    await setNodeKnobs(fx.flakeDir, "t4", { payloadKiB: 65536 });
    const a = startHive(["-f", fx.hiveFile, "apply", "--on", "t4"]);
    await waitFor("run A to push", async () => a.stderr().includes("t4 | push"), 60_000);
    a.kill("SIGSTOP");
    expect((await execOnNode(lab, "t4", "cat /run/hive/lock.json")).stdout).toContain(`"pid":${a.pid}`);
    // ...and run B breaks its lock and deploys k3.
    await setNodeKnobs(fx.flakeDir, "t4", {});
    await setVersion(fx.flakeDir, "k3");
    const b = applyJson(["apply", "--on", "t4", "--force-unlock"]);
    expect(b.code, b.stderr).toBe(0);
    expect(await fetchFromNode(lab, "t4")).toEqual({ status: 200, body: "t4 k3" });
    const afterB = await nodeState(lab, "t4");
    // A wakes up: it must not overwrite B's deploy.
    a.kill("SIGCONT");
    const runA = await a.done;
    // A fails (its lock is gone: refused on the node, or its stopped connection was dropped) and changes nothing.
    expect(runA.code, runA.stderr).toBe(1);
    expect(runA.stdout).toMatch(/^t4\s+switch\s+failed\s+.*E_(LOCK_LOST|PUSH|SSH_DISCONNECTED)/m);
    expect(await nodeState(lab, "t4")).toEqual(afterB);
    expect(await fetchFromNode(lab, "t4")).toEqual({ status: 200, body: "t4 k3" });
  });
});

describe("waits with an end, and a status that tells the truth", () => {
  it("a supervisor killed on the node (as by the OOM killer) is reported at once, not waited for forever", async () => {
    await deployBaseline(["t5"], "w1");
    await setVersion(fx.flakeDir, "w2");
    await setNodeKnobs(fx.flakeDir, "t5", { activationSleep: 30 });
    try {
      const run = startHive(["-f", fx.hiveFile, "apply", "--on", "t5", "--json"]);
      const id = await activationStarted("t5");
      const killed = await execOnNode(lab, "t5", `kill -9 "$(cat /run/hive/activations/${id}/pid)"`);
      expect(killed.exitCode, killed.stderr).toBe(0);
      const started = Date.now();
      const done = await run.done;
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(done.code).toBe(1);
      const node = (JSON.parse(done.stdout) as { nodes: { result: string; outPath: string; error: { code: string; message: string } }[] }).nodes[0]!;
      expect(node).toMatchObject({ result: "failed", error: { code: "E_LOST" } });
      expect(node.error.message).toMatch(/supervisor on the node ended without a result/);
      // The orphaned activation (of this test's own system only) must not change the node later.
      await execOnNode(lab, "t5", `pkill -f '${node.outPath}/bin/switch-to-configuration' || true`);
    } finally {
      await setNodeKnobs(fx.flakeDir, "t5", {});
      await execOnNode(lab, "t5", "/nix/var/nix/profiles/system/bin/switch-to-configuration switch");
    }
  });

  it("status reads an unconfirmed activation as activating, and a dangling profile as drift", async () => {
    const base = (await deployBaseline(["t6"], "d1"))["t6"]!;
    // An activation that waits for hive's decision (hive is stopped): it may still revert.
    await setVersion(fx.flakeDir, "d2");
    const waiting = startHive(["-f", fx.hiveFile, "apply", "--on", "t6"]);
    await waitFor("the decision window", async () => waiting.stderr().includes("t6 | verify") || waiting.stderr().includes("t6 | check"), 60_000);
    waiting.kill("SIGKILL");
    await waiting.done;
    type Status = { nodes: { name: string; verdict: string; reason: string | null }[] };
    const during = JSON.parse(runHive(["-f", fx.hiveFile, "status", "--on", "t6", "--json"]).stdout) as Status;
    expect(during.nodes[0]).toMatchObject({ verdict: "activating" });
    // The window ends unconfirmed: the node returns, and status says drift (hive.ts wants d2).
    await waitFor("the node's own revert", async () => (await nodeState(lab, "t6")).current === base.current, 30_000);
    await waitFor("the supervisor to end", async () => (await execOnNode(lab, "t6", 'd=$(ls -t /run/hive/activations | head -1); cat "/run/hive/activations/$d/result"')).stdout.trim() !== "", 30_000);
    const after = JSON.parse(runHive(["-f", fx.hiveFile, "status", "--on", "t6", "--json"]).stdout) as Status;
    expect(after.nodes[0]).toMatchObject({ verdict: "drift" });

    // A profile naming a generation that no longer exists is no in-sync node.
    await setVersion(fx.flakeDir, "d1");
    expect(runHive(["-f", fx.hiveFile, "apply", "--on", "t6"]).code).toBe(0);
    const link = (await execOnNode(lab, "t6", "readlink /nix/var/nix/profiles/system")).stdout.trim();
    await execOnNode(lab, "t6", `ln -sfn system-999-link /nix/var/nix/profiles/system`);
    try {
      const dangling = JSON.parse(runHive(["-f", fx.hiveFile, "status", "--on", "t6", "--json"]).stdout) as Status;
      expect(dangling.nodes[0]).toMatchObject({ verdict: "drift" });
      expect(dangling.nodes[0]!.reason).toMatch(/no longer exists/);
    } finally {
      await execOnNode(lab, "t6", `ln -sfn ${link} /nix/var/nix/profiles/system`);
    }
  });
});

describe("rolling deploys", () => {
  let roll: Lab | undefined;
  let rollFx: HiveFixture;
  beforeAll(async () => {
    if (!lab) return;
    roll = await upLab({ name: "roll", subnet: await findFreeSubnet(), nodes: 8 });
    rollFx = await makeHiveFixture(roll, fleet(roll), { version: "b1" });
  });
  afterAll(async () => {
    if (roll) await downLab(roll.name);
  });

  it("stops after the batch with a failure: later batches are skipped and untouched", async () => {
    const r = roll!;
    const all = r.nodes.map((n) => n.name);
    const first = runHive(["-f", rollFx.hiveFile, "apply", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const before = Object.fromEntries(await Promise.all(all.map(async (n) => [n, await nodeState(r, n)] as const)));
    await setVersion(rollFx.flakeDir, "b2");
    await setNodeKnobs(rollFx.flakeDir, all[2]!, { unhealthy: true });
    const run = runHive(["-f", rollFx.hiveFile, "apply", "--batch-size", "2", "--json"]);
    expect(run.code).toBe(1);
    const results = Object.fromEntries(JSON.parse(run.stdout).nodes.map((n: { name: string; result: string }) => [n.name, n.result]));
    expect(results).toEqual({
      [all[0]!]: "succeeded",
      [all[1]!]: "succeeded",
      [all[2]!]: "rolled-back",
      [all[3]!]: "succeeded",
      [all[4]!]: "skipped",
      [all[5]!]: "skipped",
      [all[6]!]: "skipped",
      [all[7]!]: "skipped",
    });
    for (const node of all.slice(4)) expect(await nodeState(r, node)).toEqual(before[node]);
    expect((await nodeState(r, all[2]!)).current).toBe(before[all[2]!]!.current);
  });
});
