import { describe, expect, it } from "vitest";
import type { Hive, Node } from "../config/normalize.js";
import type { HiveEvent } from "../events.js";
import type { EvaluatedNode } from "../nix/eval.js";
import { parseNodeFacts } from "../node/facts.js";
import type { RunContext } from "../run-context.js";
import { SshConnectError } from "../ssh/errors.js";
import { fakeHost } from "../../test/support/fake-host.js";
import { type EvaluateDesired, collectStatus, isNodeOk } from "./status.js";

const A = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a";
const B = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-b";
const PROFILE = "/nix/var/nix/profiles/system";
const EVAL = { workers: 1, memoryBytes: 1, cache: false, showTrace: false };

function node(name: string, over: Partial<Node> = {}): Node {
  return { name, targetHost: name, targetPort: 22, targetUser: "root", profile: PROFILE, system: `nixosConfigurations.${name}`, tags: [], healthChecks: {}, services: {}, keys: {}, ...over } as unknown as Node;
}

const facts = (current: string, profileGen: number, generations: [number, string][], extra: string[] = []) =>
  [
    `current=${current}`,
    `link=system-${profileGen}-link`,
    `profile=${generations.find(([n]) => n === profileGen)?.[1] ?? ""}`,
    "uptime=100.5",
    ...generations.map(([n, s]) => `generation=${1700000000 + n} system-${n}-link ${s}`),
    ...extra,
  ].join("\n");

/** The desired systems by node; a node without one did not evaluate. */
const evaluate = (outs: Record<string, string>, commit: string | null = null): EvaluateDesired => async (requests) => ({
  commit,
  dirty: false,
  evaluated: requests.map(({ node: name }): EvaluatedNode =>
    outs[name] ? { node: name, ok: true, drvPath: `${outs[name]}.drv`, outPath: outs[name]!, cached: false } : { node: name, ok: false, error: { code: "E_EVAL", message: `error: no system for ${name}` }, log: [] },
  ),
});

function context(nodes: Node[], probes: Record<string, string>, run?: (node: string) => { exitCode: number; stdout: string }): RunContext {
  const events: HiveEvent[] = [];
  return {
    hive: { file: "/h/hive.ts", dir: "/h", meta: { flake: "/h" }, nodes, warnings: [] } as unknown as Hive,
    runner: undefined as never,
    hostFor: (n) =>
      fakeHost(n, {
        connect: async () => {
          if (probes[n.name] === undefined) throw new SshConnectError({ endpoint: { node: n.name, host: n.name, port: 22 }, reason: "connection refused" });
          return { latencyMs: 4.4 };
        },
        facts: async () => ({ ...parseNodeFacts(probes[n.name]!, PROFILE), keys: null }),
        run: async () => ({ ...run!(n.name), stderr: "", timedOut: false }),
      }),
    reporter: { emit: (e) => void events.push(e) },
    signal: new AbortController().signal,
    now: Date.now,
    deployer: { name: "t@x", pid: 1, startedAt: "" },
    hiveVersion: "0",
    cacheDir: "/nonexistent",
  };
}

describe("collectStatus", () => {
  it("judges each node: in sync, drift, profile drift, unreachable, not evaluated, activating, dangling profile", async () => {
    const probes: Record<string, string> = {
      sync: facts(A, 2, [[1, B], [2, A]]),
      drift: facts(B, 1, [[1, B]]),
      boots: facts(A, 3, [[2, A], [3, B]]),
      noeval: facts(A, 1, [[1, A]]),
      busy: facts(A, 1, [[1, A]], ['activation={"deployedBy":"ops@deployer","system":"x"}']),
      dangling: [`current=${A}`, "link=system-9-link", "profile-dangling=1", `generation=1700000001 system-1-link ${A}`].join("\n"),
    };
    const names = ["sync", "drift", "boots", "gone", "noeval", "busy", "dangling"];
    const report = await collectStatus({ eval: EVAL }, context(names.map((n) => node(n)), probes), evaluate({ sync: A, drift: A, boots: A, gone: A, busy: A, dangling: A }));
    const by = Object.fromEntries(report.nodes.map((n) => [n.name, n]));
    expect(report.nodes.map((n) => [n.name, n.verdict])).toEqual([
      ["sync", "in-sync"],
      ["drift", "drift"],
      ["boots", "drift"],
      ["gone", "unknown"],
      ["noeval", "unknown"],
      ["busy", "activating"],
      ["dangling", "drift"],
    ]);
    expect(report).toMatchObject({ inSync: 1, total: 7 });
    expect(by["sync"]).toMatchObject({ reachable: true, latencyMs: 4, current: A, desired: A, generation: 2, profileGeneration: 2, uptimeSeconds: 100, health: null, failedUnits: null });
    expect(by["sync"]!.activatedAt).toBe(new Date(1700000002 * 1000).toISOString());
    expect(by["boots"]).toMatchObject({ generation: 2, profileGeneration: 3, reason: "runs what hive.ts wants, but its profile (the next boot) names another system" });
    expect(by["gone"]).toMatchObject({ reachable: false, latencyMs: null, reason: "unreachable", error: { code: "E_SSH_CONNECT" } });
    expect(by["noeval"]).toMatchObject({ reachable: true, desired: null, evalError: "error: no system for noeval" });
    expect(by["busy"]!.reason).toContain("by ops@deployer");
    expect(by["dangling"]!.reason).toContain("no longer exists");
    expect(report.nodes.map(isNodeOk)).toEqual([true, false, false, false, false, false, false]);
  });

  it("runs each health check once, and an unhealthy node is not ok", async () => {
    const checked = node("a", { healthChecks: { web: { cmd: "systemctl is-active web", timeout: 2, interval: 1, deadline: 30 } } } as unknown as Partial<Node>);
    let runs = 0;
    const report = await collectStatus({ eval: EVAL }, context([checked], { a: facts(A, 1, [[1, A]]) }, () => (runs++, { exitCode: 3, stdout: "inactive" })), evaluate({ a: A }));
    expect(report.nodes[0]).toMatchObject({ verdict: "in-sync", health: { healthy: false, checks: [{ name: "web", passed: false, message: "exit 3" }] } });
    expect(runs).toBe(1);
    expect(isNodeOk(report.nodes[0]!)).toBe(false);
  });
});

describe("why a node drifted", () => {
  const C = "/nix/store/cccccccccccccccccccccccccccccccc-nixos-system-c";
  const record = (system: string, rev: string, goal = "switch") => ({ system, goal, deployedAt: "2026-01-02T03:04:05.000Z", deployedBy: "ops@laptop", hiveFile: "/h/hive.ts", flake: "git+file:///h", flakeRevision: rev, flakeDirty: false, hiveVersion: "0" });
  const event = (e: Record<string, unknown>) => `event=${JSON.stringify({ v: 1, generation: null, previousGeneration: null, error: null, ...e })}`;
  const deployed = (system: string, rev: string, at = "2026-01-02T03:05:00Z") => event({ at, result: "confirmed", system, previous: A, deployment: record(system, rev) });

  async function explain(probe: string, desired = C, commit: string | null = "ffffffffffffffff") {
    const report = await collectStatus({ eval: EVAL }, context([node("n")], { n: probe }), evaluate({ n: desired }, commit));
    return report.nodes[0]!;
  }

  it("rolled back by a failing health check: when, why, which commit, and the real activation time", async () => {
    const rolledBack = event({ at: "2026-01-03T10:00:00Z", result: "reverted-rejected", system: C, previous: B, error: { code: "E_HEALTH", message: "health check web failed: status 404" }, deployment: record(C, "cccccccc1") });
    const status = await explain(facts(B, 2, [[1, A], [2, B]], [`record=system-2-link ${JSON.stringify(record(B, "bbbbbbbb1"))}`, deployed(B, "bbbbbbbb1"), rolledBack]));
    expect(status.verdict).toBe("drift");
    expect(status.explanation).toEqual({
      cause: "rolled-back",
      message: "rolled back at 2026-01-03T10:00:00Z because health check web failed: status 404 (the deploy of ccccccc by ops@laptop); it runs generation 2 again",
      at: "2026-01-03T10:00:00Z",
    });
    // Activated when the node returned to it, not when its generation link was made.
    expect(status).toMatchObject({ activatedAt: "2026-01-03T10:00:00Z", activatedAtSource: "event", runningCommit: "bbbbbbbb1", wantedCommit: "ffffffffffffffff" });
  });

  it("takes the activation time from /run/current-system's link when the node has one", async () => {
    const status = await explain(facts(B, 2, [[2, B]], ["current-since=1767000000.25", deployed(B, "b1")]));
    expect(status).toMatchObject({ activatedAt: new Date(1767000000 * 1000).toISOString(), activatedAtSource: "link" });
  });

  it("changed outside hive, never deployed, hive.ts changed since a commit, a failed deploy, an operator's rollback", async () => {
    const byHand = await explain(facts(A, 1, [[1, A], [2, B]], [deployed(B, "bbbbbbbb1")]));
    expect(byHand.explanation).toMatchObject({ cause: "changed-outside-hive" });
    expect(byHand.explanation!.message).toMatch(/^changed outside hive: it runs generation 1 \(aaaaaaaa-nixos-system-a\), not bbbbbbbb-nixos-system-b, which hive left running at 2026-01-02T03:05:00Z$/);

    const never = await explain(facts(A, 1, [[1, A]]));
    expect(never.explanation).toEqual({ cause: "never-deployed", message: "never deployed by hive: it runs generation 1, which hive did not make", at: null });

    const moved = await explain(facts(B, 2, [[2, B]], [`record=system-2-link ${JSON.stringify(record(B, "bbbbbbbb1"))}`, deployed(B, "bbbbbbbb1")]));
    expect(moved.explanation).toMatchObject({ cause: "hive-ts-changed", message: "hive.ts changed since bbbbbbb, deployed by ops@laptop at 2026-01-02T03:05:00Z; it now wants fffffff" });

    const failed = await explain(facts(B, 2, [[2, B]], [deployed(B, "b1"), event({ at: "2026-01-04T00:00:00Z", result: "failed", system: C, previous: B, error: { code: "E_PUSH", message: "copying the closure failed: disk full" }, deployment: record(C, "c1") })]));
    expect(failed.explanation).toMatchObject({ cause: "failed", message: "the deploy of c1 by ops@laptop failed at 2026-01-04T00:00:00Z: copying the closure failed: disk full" });

    const operator = await explain(facts(A, 1, [[1, A], [2, B]], [deployed(B, "b1"), event({ at: "2026-01-05T00:00:00Z", result: "confirmed", system: A, previous: B, generation: 1, deployment: record(A, "", "rollback") })]));
    expect(operator.explanation).toMatchObject({ cause: "rollback", message: "rolled back by ops@laptop at 2026-01-05T00:00:00Z (hive rollback) to generation 1" });
  });

  it("a stopped service, a missing key, and a full disk are problems; the first two make the node not ok", async () => {
    const withService = node("n", { services: { web: { unit: "web.service", port: 80, check: "web" } } } as unknown as Partial<Node>);
    const probe = facts(C, 1, [[1, C]], ["systemd=1", "unit=Id=web.service", "unit=LoadState=loaded", "unit=ActiveState=failed", "unit=SubState=failed", "unit=", "ports-read=1", "listening=0016", "df=100 95 /", "df=100 95 /"]);
    const ctx = context([withService], { n: probe });
    const host = ctx.hostFor;
    ctx.hostFor = (n) => ({ ...host(n), facts: async () => ({ ...parseNodeFacts(probe, PROFILE), keys: { inspection: { present: [], missing: [{ name: "db", path: "/run/keys/db", uploadAt: "pre-activation", placedBefore: true }], stale: [] }, error: null } }) });
    const report = await collectStatus({ eval: EVAL }, ctx, evaluate({ n: C }));
    const status = report.nodes[0]!;
    expect(status.verdict).toBe("in-sync");
    expect(status.services).toEqual([{ name: "web", unit: "web.service", unitState: "failed (failed)", port: 80, listening: false, check: "web", healthy: null, up: false, problem: "unit web.service is failed (failed); nothing listens on port 80" }]);
    expect(status.problems).toEqual([
      "service web is down: unit web.service is failed (failed); nothing listens on port 80",
      "key db is missing at /run/keys/db (hive had placed it: a reboot empties /run/keys); hive upload-keys puts it back",
      "disk / is 95% full",
    ]);
    expect(isNodeOk(status)).toBe(false);
  });
});
