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
  return { name, targetHost: name, targetPort: 22, targetUser: "root", profile: PROFILE, system: `nixosConfigurations.${name}`, tags: [], healthChecks: {}, ...over } as unknown as Node;
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
const evaluate = (outs: Record<string, string>): EvaluateDesired => async (requests) =>
  requests.map(({ node: name }): EvaluatedNode =>
    outs[name] ? { node: name, ok: true, drvPath: `${outs[name]}.drv`, outPath: outs[name]!, cached: false } : { node: name, ok: false, error: { code: "E_EVAL", message: `error: no system for ${name}` }, log: [] },
  );

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
        facts: async () => parseNodeFacts(probes[n.name]!, PROFILE),
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
