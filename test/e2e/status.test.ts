// End-to-end: hive status on the lab: in sync after apply, drift when hive.ts's data changes, unreachable when cut.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { cutNetwork, execOnNode, killService, restoreNetwork, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { runHive } from "../cli/run-hive.js";
import { type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";
import { join } from "node:path";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
const NODES = ["t1", "t2", "t3", "t4"];

interface JsonStatus {
  name: string;
  reachable: boolean;
  latencyMs: number | null;
  current: string | null;
  desired: string | null;
  verdict: string;
  reason: string | null;
  generation: number | null;
  activatedAt: string | null;
  uptimeSeconds: number | null;
  failedUnits: string[] | null;
  health: unknown;
  needsReboot: boolean | null;
  deployment: { system: string; deployedBy: string; goal: string } | null;
  error: { code: string; message: string } | null;
}

function status(args: string[] = []) {
  const run = runHive(["-f", fx.hiveFile, "status", "--on", NODES.join(","), "--json", ...args]);
  let doc: { nodes: JsonStatus[]; inSync: number; total: number };
  try {
    doc = JSON.parse(run.stdout);
  } catch {
    throw new Error(`hive status printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, doc, byName: Object.fromEntries(doc.nodes.map((n) => [n.name, n])) };
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name })), { version: `s-${Date.now()}` });
  const apply = runHive(["-f", fx.hiveFile, "apply", "--on", NODES.join(",")]);
  if (apply.code !== 0) throw new Error(`apply failed:\n${apply.stdout}\n${apply.stderr}`);
});

describe("hive status", () => {
  afterEach(async () => {
    await restoreNetwork(lab, "t3");
  });

  it("reports every node in sync after apply, with generation, uptime and the deployment record", async () => {
    const run = status();
    expect(run.code, run.stderr).toBe(0);
    expect(run.doc.inSync).toBe(4);
    expect(run.doc.total).toBe(4);
    for (const name of NODES) {
      const node = run.byName[name]!;
      const state = await nodeState(lab, name);
      // A node rebooted by another test has /run/booted-system: the same (absent) kernel is then "no reboot needed", not unknown.
      const booted = (await execOnNode(lab, name, "test -e /run/booted-system")).exitCode === 0;
      expect(node).toMatchObject({ reachable: true, verdict: "in-sync", current: state.current, desired: state.current, generation: state.generation, failedUnits: null, health: null, needsReboot: booted ? false : null, error: null });
      expect(node.latencyMs).toBeGreaterThanOrEqual(0);
      expect(node.uptimeSeconds).toBeGreaterThan(0);
      expect(Date.now() - Date.parse(node.activatedAt!)).toBeLessThan(10 * 60_000);
      expect(node.deployment).toMatchObject({ system: state.current, goal: "switch" });
      expect(node.deployment!.deployedBy).toMatch(/^root@/);
    }
    const text = runHive(["-f", fx.hiveFile, "status", "--on", NODES.join(",")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NODE\s+SSH\s+VERDICT\s+SYSTEM\s+GEN\s+ACTIVATED\s+COMMIT\s+UPTIME/);
    expect(text.stdout).toMatch(/^t1\s+\d+ms\s+in-sync\s+[0-9a-z]{8}-nixos-system-t1-s-\d+\s+\d+\s+\d+s ago/m);
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("4/4 nodes in sync (100%)");
  });

  it("reports drift when hive.ts's systems change without apply, and unreachable when a node's network is cut", async () => {
    const before = status();
    await setVersion(fx.flakeDir, `drifted-${Date.now()}`);
    await cutNetwork(lab, "t3");
    const run = status();
    expect(run.code).toBe(1);
    expect(run.doc.inSync).toBe(0);
    for (const name of ["t1", "t2", "t4"]) {
      expect(run.byName[name]).toMatchObject({ reachable: true, verdict: "drift", current: before.byName[name]!.current });
      expect(run.byName[name]!.desired).toMatch(/-nixos-system-.*-drifted-\d+$/);
      expect(run.byName[name]!.reason).toBe("runs another system than hive.ts wants");
    }
    expect(run.byName["t3"]).toMatchObject({ reachable: false, verdict: "unknown", current: null, latencyMs: null });
    expect(run.byName["t3"]!.error!.code).toBe("E_SSH_CONNECT");

    const text = runHive(["-f", fx.hiveFile, "status", "--on", NODES.join(",")]);
    expect(text.code).toBe(1);
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("0/4 nodes in sync (0%); drift: t[1-2,4]; unreachable: t3");
    expect(text.stdout).toMatch(/^t3\s+unreachable\s+unknown\s/m);

    // Deploying the new systems brings them back in sync; t3 is reachable again.
    await restoreNetwork(lab, "t3");
    const apply = runHive(["-f", fx.hiveFile, "apply", "--on", NODES.join(",")]);
    expect(apply.code, apply.stderr).toBe(0);
    const after = status();
    expect(after.code).toBe(0);
    expect(after.doc.nodes.map((n) => n.generation)).toEqual(before.doc.nodes.map((n) => n.generation! + 1));
  });

  it("calls a node that runs the desired system but boots another drift", async () => {
    const before = status(["--on", "t4"]).byName["t4"]!;
    expect(before.verdict).toBe("in-sync");
    // On the node: the profile goes back a generation, the running system stays.
    const rollback = await execOnNode(lab, "t4", "nix-env -p /nix/var/nix/profiles/system --rollback");
    expect(rollback.exitCode, rollback.stderr).toBe(0);
    const run = status(["--on", "t4"]);
    expect(run.code).toBe(1);
    expect(run.byName["t4"]).toMatchObject({
      verdict: "drift",
      reason: "runs what hive.ts wants, but its profile (the next boot) names another system",
      current: before.current,
      generation: before.generation,
    });
    const history = JSON.parse(runHive(["-f", fx.hiveFile, "history", "--on", "t4", "--json"]).stdout) as { nodes: { generations: { number: number; current: boolean; profile: boolean }[] }[] };
    const generations = history.nodes[0]!.generations;
    expect(generations.find((g) => g.current)!.number).toBe(before.generation);
    expect(generations.find((g) => g.profile)!.number).toBe(before.generation! - 1);
  });

  it("runs hive.ts's health checks once: a node whose service died is unhealthy, and status exits 1", async () => {
    const file = join(fx.dir, "health.hive.ts");
    const web = { healthChecks: { web: { http: { port: 80, path: "/health" }, timeout: 2 } } };
    writeHive(file, lab, fx.flakeDir, [{ name: "t1", extra: web }, { name: "t2", extra: web }, { name: "t4" }]);
    const apply = runHive(["-f", file, "apply", "--on", "t1,t2"]);
    expect(apply.code, apply.stderr).toBe(0);
    const healthy = runHive(["-f", file, "status", "--on", "t1,t2", "--json"]);
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(JSON.parse(healthy.stdout).nodes.map((n: JsonStatus) => n.health)).toEqual([
      { healthy: true, checks: [{ name: "web", passed: true, message: null }] },
      { healthy: true, checks: [{ name: "web", passed: true, message: null }] },
    ]);

    await killService(lab, "t2");
    try {
      const started = Date.now();
      const run = runHive(["-f", file, "status", "--json"]);
      expect(run.code).toBe(1);
      const [t1, t2, t4] = JSON.parse(run.stdout).nodes as JsonStatus[];
      expect(t1!.health).toMatchObject({ healthy: true });
      expect(t2).toMatchObject({ verdict: "in-sync", health: { healthy: false, checks: [{ name: "web", passed: false }] } });
      expect((t2!.health as { checks: { message: string }[] }).checks[0]!.message).toMatch(/GET http:\/\/10\.\d+\.\d+\.\d+:80\/health: ECONNREFUSED/);
      expect(t4!.health).toBeNull();
      // One attempt, not retries until the check's deadline.
      expect(Date.now() - started).toBeLessThan(8000);
      const text = runHive(["-f", file, "status", "--on", "t1,t2"]);
      expect(text.stdout).toMatch(/^t2\s.*\sfailing: web\s/m);
      expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("2/2 nodes in sync (100%); unhealthy: t2");
    } finally {
      await execOnNode(lab, "t2", "/run/current-system/bin/switch-to-configuration test");
    }
  });

  it("says unknown, not drift, when hive.ts does not evaluate for a node", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    writeFileSync(join(fx.flakeDir, "nodes.json"), JSON.stringify({ system: "x86_64-linux", version: "x", nodes: { t1: {} } }));
    const run = status(["--on", "t1,t2"]);
    expect(run.code).toBe(1);
    expect(run.byName["t2"]).toMatchObject({ reachable: true, verdict: "unknown", desired: null });
    expect(run.byName["t2"]!.reason).toBe("hive.ts did not evaluate for this node");
    expect(run.byName["t1"]!.verdict).toBe("drift");
  });
});
