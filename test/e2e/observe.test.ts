// End-to-end: fleet observability on the lab. Four nodes, each wrong in its own way (a stopped
// service, a rollback after a failing health check, a change by hand, a missing key): status says
// why in words, in the table and in --json, judged against each node's real state; the event log
// on the node; metrics through real parsers; `hive check --notify` alerting on changes only;
// tables that fit 80 and 120 columns in a real terminal (tmux).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutNetwork, execOnNode, killService, restoreNetwork, setNodeKnobs, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { HIVE_BIN, parseHiveJson, runHive } from "../cli/run-hive.js";
import { checkWithPromtool, parseOpenMetrics } from "../support/metrics-parsers.js";
import { type HiveFixture, fetchFromNode, makeHiveFixture, nodeState } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
const NODES = ["t1", "t2", "t3", "t4"];
const ON = NODES.join(",");
const commits: Record<string, string> = {};
let systems: Record<string, { current: string }> = {};

const WEB_CHECK = { web: { http: { port: 80, path: "/health" }, timeout: 1, interval: 0.5, deadline: 3 } };
const WEB_SERVICE = { web: { unit: "hive-lab-web.service", port: 80, check: "web" } };

function git(...args: string[]): string {
  const run = spawnSync("git", ["-c", "user.email=ops@example.org", "-c", "user.name=ops", ...args], { cwd: fx.dir, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
  return run.stdout.trim();
}

function commit(message: string): string {
  git("add", "-A");
  git("commit", "-qm", message);
  return git("rev-parse", "HEAD");
}

function apply(on: string) {
  return runHive(["-f", fx.hiveFile, "apply", "--on", on]);
}

interface JsonNode {
  name: string;
  verdict: string;
  current: string;
  explanation: { cause: string; message: string; at: string | null } | null;
  runningCommit: string | null;
  wantedCommit: string | null;
  activatedAt: string | null;
  activatedAtSource: string | null;
  services: { name: string; up: boolean | null; listening: boolean | null; healthy: boolean | null; problem: string | null }[];
  keys: { missing: { name: string; path: string; placedBefore: boolean }[]; error: string | null } | null;
  events: { kind: string; at: string; error: { code: string; message: string } | null }[];
  problems: string[];
  resources: { memory: { totalBytes: number } | null; disks: { path: string }[]; load: number[] | null } | null;
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  const keyFile = join(mkdtempSync(join(tmpdir(), "hive-observe-key-")), "db.key");
  writeFileSync(keyFile, "s3cret\n", { mode: 0o600 });
  fx = await makeHiveFixture(
    lab,
    NODES.map((name) => ({ name, extra: { healthChecks: WEB_CHECK, services: WEB_SERVICE, confirmTimeout: 3, ...(name === "t4" ? { keys: { db: { file: keyFile } } } : {}) } })),
    { version: "o1", nodes: Object.fromEntries(NODES.map((n) => [n, {}])) },
  );
  git("init", "-q", ".");
  commits["o1"] = commit("o1");
  expect(apply(ON).code).toBe(0);
  await setVersion(fx.flakeDir, "o2");
  commits["o2"] = commit("o2");
  const second = apply(ON);
  expect(second.code, second.stderr).toBe(0);
  systems = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await nodeState(lab, n)] as const)));

  // t2: its next system (o3) fails its health check, and the node returns to o2.
  await setNodeKnobs(fx.flakeDir, "t2", { unhealthy: true, version: "o3" });
  commits["o3"] = commit("o3: t2 unhealthy");
  expect(apply("t2").code).toBe(1);
  // t3: someone switches it back a generation by hand.
  const byHand = await execOnNode(lab, "t3", "nix-env -p /nix/var/nix/profiles/system --switch-generation 1 >/dev/null 2>&1 && /nix/var/nix/profiles/system/bin/switch-to-configuration switch");
  expect(byHand.exitCode, byHand.stderr).toBe(0);
  // t1: its service dies. t4: its key is gone (as after a reboot).
  await killService(lab, "t1");
  expect((await execOnNode(lab, "t4", "rm /run/keys/db")).exitCode).toBe(0);
});

afterAll(async () => {
  if (lab) await restoreNetwork(lab, "t3");
});

describe("hive status explains each node in words", () => {
  it("a stopped service, a rollback after a failing check, a change by hand, a missing key: table, --json and exit 1", async () => {
    // The nodes' real state first: what status must explain.
    expect(await fetchFromNode(lab, "t1")).toBeNull();
    expect(await nodeState(lab, "t2")).toMatchObject({ current: systems["t2"]!.current });
    expect(await fetchFromNode(lab, "t2")).toEqual({ status: 200, body: "t2 o2" });
    expect((await nodeState(lab, "t3")).generation).toBe(1);
    expect((await execOnNode(lab, "t4", "test -e /run/keys/db")).exitCode).not.toBe(0);
    const t2Log = (await execOnNode(lab, "t2", "tail -n 1 /nix/var/hive/events.jsonl")).stdout;
    expect(JSON.parse(t2Log)).toMatchObject({ result: "reverted-rejected", system: expect.stringContaining("nixos-system-t2-o3"), previous: systems["t2"]!.current, error: { code: "E_HEALTH" }, deployment: { flakeRevision: commits["o3"] } });

    const run = parseHiveJson<{ nodes: JsonNode[]; commit: string }>(runHive(["-f", fx.hiveFile, "status", "--on", ON, "--json"]));
    expect(run.code).toBe(1);
    expect(run.doc.commit).toBe(commits["o3"]);
    const { t1, t2, t3, t4 } = run.byName as Record<string, JsonNode>;

    expect(t1!.services).toEqual([expect.objectContaining({ name: "web", up: false, listening: false, healthy: false })]);
    expect(t1!.problems[0]).toMatch(/^service web is down: nothing listens on port 80; check web fails: GET http:\/\/10\.\d+\.\d+\.\d+:80\/health: ECONNREFUSED$/);

    expect(t2).toMatchObject({ verdict: "drift", current: systems["t2"]!.current, runningCommit: commits["o2"], wantedCommit: commits["o3"], explanation: { cause: "rolled-back" } });
    expect(t2!.explanation!.message).toMatch(
      new RegExp(`^rolled back at \\S+Z because health check web failed: status 404.*\\(the deploy of ${commits["o3"]!.slice(0, 7)} by root@\\S+\\); it runs generation 2 again$`),
    );
    expect(t2!.events[0]).toMatchObject({ kind: "rolled-back", error: { code: "E_HEALTH" } });
    // Activated when it returned to o2, not when o2's generation was made.
    expect(Date.parse(t2!.activatedAt!)).toBeGreaterThanOrEqual(Date.parse(t2!.explanation!.at!) - 1000);

    expect(t3).toMatchObject({ verdict: "drift", explanation: { cause: "changed-outside-hive" }, runningCommit: commits["o1"] });
    expect(t3!.explanation!.message).toMatch(/^changed outside hive: it runs generation 1 \(\w{8}-nixos-system-t3-o1\), not \w{8}-nixos-system-t3-o2, which hive left running at /);

    expect(t4!.keys).toEqual({ missing: [{ name: "db", path: "/run/keys/db", placedBefore: true }], stale: [], error: null });
    expect(t4!.problems).toContain("key db is missing at /run/keys/db (hive had placed it: a reboot empties /run/keys); hive upload-keys puts it back");
    expect(t4!.resources!.memory!.totalBytes).toBeGreaterThan(0);
    expect(t4!.resources!.disks[0]!.path).toBe("/");

    const text = runHive(["-f", fx.hiveFile, "status", "--on", ON]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^t1\s.*\sweb down$/m);
    expect(text.stdout).toMatch(/^t2\s+\d+ms\s+drift\s.*\srolled back$/m);
    expect(text.stdout).toMatch(/^t3\s+\d+ms\s+drift\s.*\schanged outside hive$/m);
    expect(text.stdout).toMatch(/^t4\s.*\skey db missing$/m);
    expect(text.stdout).toMatch(/^t2: rolled back at \S+ because health check web failed/m);
    expect(text.stdout).toMatch(/^t3: changed outside hive: /m);
    expect(text.stdout).toMatch(/^t1\s+web\s+down\s+hive-lab-web\.service\s+unknown \(no systemd\)\s+80 closed\s+web failing$/m);
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("2/4 nodes in sync (50%); drift: t[2-3]; unhealthy: t1; services down: t1; keys missing: t4");
  });

  it("history lists the node's deploys and its rollback, with why, commit and who", () => {
    const run = parseHiveJson<{ nodes: { name: string; events: { kind: string; error: { code: string } | null; deployment: { flakeRevision: string; deployedBy: string } }[] }[] }>(
      runHive(["-f", fx.hiveFile, "history", "--on", "t2", "--json"]),
    );
    expect(run.code).toBe(0);
    expect(run.byName["t2"]!.events.map((e) => [e.kind, e.deployment.flakeRevision, e.error?.code ?? null])).toEqual([
      ["deployed", commits["o1"], null],
      ["deployed", commits["o2"], null],
      ["rolled-back", commits["o3"], "E_HEALTH"],
    ]);
    expect(runHive(["-f", fx.hiveFile, "history", "--on", "t2"]).stdout).toMatch(/^t2\s+\S+Z\s+rolled-back\s+3\s.*E_HEALTH: health check web failed/m);
  });

  it("--format openmetrics is accepted by promtool and read by the OpenMetrics parser as the fleet's state", () => {
    const run = runHive(["-f", fx.hiveFile, "status", "--on", ON, "--format", "openmetrics"]);
    expect(run.code).toBe(1);
    const verdict = checkWithPromtool(run.stdout);
    expect(verdict.ok, verdict.output).toBe(true);
    const families = Object.fromEntries(parseOpenMetrics(run.stdout).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string>) => families[name]?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value("hive_nodes_in_sync", {})).toBe(2);
    expect(value("hive_node_verdict", { node: "t2", verdict: "drift" })).toBe(1);
    expect(value("hive_node_last_deploy_result", { node: "t2", result: "rolled-back" })).toBe(1);
    expect(value("hive_node_service_up", { node: "t1", service: "web" })).toBe(0);
    expect(value("hive_node_keys_missing", { node: "t4" })).toBe(1);
    expect(value("hive_node_generation", { node: "t3" })).toBe(1);
    expect(runHive(["-f", fx.hiveFile, "status", "--on", ON, "--prometheus"]).stdout.split("\n").filter((l) => l.startsWith("hive_node_verdict")).length).toBe(16);
  });
});

describe("tables fit the terminal", () => {
  /** Runs hive in a tmux pane `width` columns wide and returns the screen with wrapped lines joined. */
  let sessions = 0;
  function inTmux(width: number, args: string[]): string[] {
    const socket = `hive-observe-${process.pid}-${(sessions += 1)}`;
    const done = `__hive_done_${width}`;
    const command = `${process.execPath} ${HIVE_BIN} -f ${fx.hiveFile} ${args.join(" ")}; echo ${done}; sleep 60`;
    const tmux = (...a: string[]) => spawnSync("tmux", ["-L", socket, ...a], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", TERM: "xterm" } });
    const started = tmux("new-session", "-d", "-x", String(width), "-y", "100", "-s", "hive", command);
    expect(started.status, started.stderr).toBe(0);
    try {
      for (let i = 0; i < 300; i++) {
        const screen = tmux("capture-pane", "-p", "-J", "-t", "hive").stdout;
        if (screen.includes(done)) return screen.slice(0, screen.indexOf(done)).trimEnd().split("\n");
        spawnSync("sleep", ["0.1"]);
      }
      throw new Error(`hive ${args.join(" ")} did not finish in tmux`);
    } finally {
      tmux("kill-server");
    }
  }

  it("status, history, check and nodes never wrap at 80 or 120 columns", () => {
    for (const width of [80, 120]) {
      for (const args of [["status", "--on", ON], ["history", "--on", "t2"], ["check", "--on", ON, "--fast"], ["nodes"]]) {
        const lines = inTmux(width, args);
        expect(lines.length, `${args[0]} at ${width}`).toBeGreaterThan(2);
        for (const line of lines) expect([...line].length, `${args[0]} at ${width}: ${line}`).toBeLessThanOrEqual(width);
      }
    }
    const narrow = inTmux(80, ["status", "--on", ON]);
    expect(narrow[0]).toMatch(/^NODE\s+VERDICT\s/);
    expect(narrow.some((l) => /^t3\s.*changed outside hive$/.test(l))).toBe(true);
    // --wide keeps every column, the terminal's width notwithstanding.
    expect(inTmux(80, ["--wide", "status", "--on", ON])[0]).toMatch(/^NODE\s+SSH\s+VERDICT\s+SYSTEM\s+GEN\s+ACTIVATED\s+COMMIT\s+UPTIME\s+LOAD\s+MEM\s+DISK\s+HEALTH\s+DEPLOYED-BY\s+NOTES$/);
  });
});

describe("hive check --notify", () => {
  it("alerts once when a service stops, not on the next run, and once when it recovers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-notify-"));
    const alerts = join(dir, "alerts.jsonl");
    const env = { XDG_STATE_HOME: join(dir, "state") };
    const check = () => runHive(["-f", fx.hiveFile, "check", "--on", ON, "--fast", "--notify", `cat >> ${alerts}`], { env });
    const received = () => readFileSync(alerts, { encoding: "utf8", flag: "a+" }).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { node: string; check: string; state: string; output: string });

    // t1's service comes back (over SSH, as hive would start it): a healthy fleet alerts nothing.
    expect(runHive(["-f", fx.hiveFile, "exec", "--on", "t1", "--", "/run/current-system/bin/switch-to-configuration", "test"]).code).toBe(0);
    expect(await fetchFromNode(lab, "t1")).toMatchObject({ status: 200 });
    expect(check().code).toBe(0);
    expect(received()).toEqual([]);

    await killService(lab, "t1");
    expect(await fetchFromNode(lab, "t1")).toBeNull();
    const degraded = check();
    expect(degraded.code).toBe(1);
    expect(degraded.stderr).toContain("alert sent: t1 check web degraded");
    expect(received()).toEqual([expect.objectContaining({ node: "t1", check: "web", state: "degraded", output: expect.stringMatching(/ECONNREFUSED/) })]);

    expect(check().code).toBe(1);
    expect(received()).toHaveLength(1);

    expect(runHive(["-f", fx.hiveFile, "exec", "--on", "t1", "--", "/run/current-system/bin/switch-to-configuration", "test"]).code).toBe(0);
    expect(check().code).toBe(0);
    expect(received().map((a) => [a.node, a.check, a.state])).toEqual([
      ["t1", "web", "degraded"],
      ["t1", "web", "recovered"],
    ]);
  });

  it("reports an unreachable node at once, without running (or retrying) its checks, and alerts once for it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-notify-"));
    const alerts = join(dir, "alerts.jsonl");
    await cutNetwork(lab, "t3");
    try {
      const run = parseHiveJson<{ nodes: { name: string; reachable: boolean; checks: unknown[]; error: { code: string } | null }[] }>(
        runHive(["-f", fx.hiveFile, "check", "--on", "t3", "--json", "--notify", `cat >> ${alerts}`], { env: { XDG_STATE_HOME: join(dir, "state") } }),
      );
      expect(run.code).toBe(1);
      expect(run.byName["t3"]).toMatchObject({ reachable: false, checks: [], error: { code: "E_SSH_CONNECT" } });
      expect(readFileSync(alerts, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { check: string | null; state: string })).toEqual([expect.objectContaining({ node: "t3", check: null, state: "degraded" })]);
    } finally {
      await restoreNetwork(lab, "t3");
    }
  });
});
