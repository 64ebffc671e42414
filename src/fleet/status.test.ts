import { describe, expect, it } from "vitest";
import type { Hive, Node } from "../config/normalize.js";
import type { ProcessRunner } from "../nix/runner.js";
import type { ExecResult, SshConnection } from "../ssh/connection.js";
import { SshConnectError } from "../ssh/errors.js";
import { collectStatus, isNodeOk } from "./status.js";

const A = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a";
const B = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-b";

function node(name: string): Node {
  return { name, targetHost: name, targetPort: 22, targetUser: "root", profile: "/nix/var/nix/profiles/system", system: `nixosConfigurations.${name}`, tags: [] } as unknown as Node;
}

const hive = (names: string[]) => ({ file: "/h/hive.ts", dir: "/h", meta: { flake: "/h" }, nodes: names.map(node), warnings: [] }) as unknown as Hive;

/** nix eval answers with the given out paths (an absent one fails to evaluate). */
function evalRunner(outs: Record<string, string>): ProcessRunner {
  return {
    run: async (_file, args) => {
      const expr = args[args.indexOf("--expr") + 1] ?? "";
      const nodes = [...expr.matchAll(/"([a-z0-9-]+)" = /g)].map((m) => m[1]!);
      if (nodes.length === 1 && outs[nodes[0]!] === undefined) return { command: "nix", exitCode: 1, stdout: "", stderr: `error: no system for ${nodes[0]}` };
      const values = Object.fromEntries(nodes.map((n) => [n, outs[n] ? { ok: true, drv: `${outs[n]}.drv`, out: outs[n] } : { ok: false }]));
      return { command: "nix", exitCode: 0, stdout: JSON.stringify(values), stderr: "" };
    },
  };
}

function connection(stdout: string): SshConnection {
  const result: ExecResult = { exitCode: 0, signal: null, stdout, stderr: "", timedOut: false, aborted: false };
  return { target: {} as SshConnection["target"], latencyMs: 4.4, hostKey: { algorithm: "", keyType: "", fingerprint: "" }, exec: async () => result, close: () => {} };
}

const facts = (current: string, profileGen: number, generations: [number, string][]) =>
  [`current=${current}`, `link=system-${profileGen}-link`, `profile=${generations.find(([n]) => n === profileGen)?.[1] ?? ""}`, "uptime=100.5", ...generations.map(([n, s]) => `generation=${1700000000 + n} system-${n}-link ${s}`)].join("\n");

describe("collectStatus", () => {
  it("judges each node: in sync, drift, profile drift, unreachable, not evaluated", async () => {
    const probes: Record<string, string> = {
      sync: facts(A, 2, [[1, B], [2, A]]),
      drift: facts(B, 1, [[1, B]]),
      boots: facts(A, 3, [[2, A], [3, B]]),
      noeval: facts(A, 1, [[1, A]]),
    };
    const report = await collectStatus(
      {},
      {
        hive: hive(["sync", "drift", "boots", "gone", "noeval"]),
        runner: evalRunner({ sync: A, drift: A, boots: A, gone: A }),
        connect: async (n) => {
          if (n.name === "gone") throw new SshConnectError({ endpoint: { node: "gone", host: "gone", port: 22 }, reason: "connection refused" });
          return connection(probes[n.name]!);
        },
      },
    );
    const by = Object.fromEntries(report.nodes.map((n) => [n.name, n]));
    expect(report.nodes.map((n) => [n.name, n.verdict])).toEqual([
      ["sync", "in-sync"],
      ["drift", "drift"],
      ["boots", "drift"],
      ["gone", "unknown"],
      ["noeval", "unknown"],
    ]);
    expect(report).toMatchObject({ inSync: 1, total: 5 });
    expect(by["sync"]).toMatchObject({ reachable: true, latencyMs: 4, current: A, desired: A, generation: 2, profileGeneration: 2, uptimeSeconds: 100, health: null, failedUnits: null });
    expect(by["sync"]!.activatedAt).toBe(new Date(1700000002 * 1000).toISOString());
    expect(by["boots"]).toMatchObject({ generation: 2, profileGeneration: 3, reason: "runs what hive.ts wants, but its profile (the next boot) names another system" });
    expect(by["gone"]).toMatchObject({ reachable: false, latencyMs: null, reason: "unreachable", error: { code: "E_SSH_CONNECT" } });
    expect(by["noeval"]).toMatchObject({ reachable: true, desired: null, evalError: "error: no system for noeval" });
    expect(report.nodes.map(isNodeOk)).toEqual([true, false, false, false, false]);
  });

  it("takes health from the hook, and an unhealthy node is not ok", async () => {
    const report = await collectStatus(
      {},
      {
        hive: hive(["a"]),
        runner: evalRunner({ a: A }),
        connect: async () => connection(facts(A, 1, [[1, A]])),
        checkHealth: async () => ({ healthy: false, checks: [{ name: "web", passed: false, message: "connection refused" }] }),
      },
    );
    expect(report.nodes[0]).toMatchObject({ verdict: "in-sync", health: { healthy: false } });
    expect(isNodeOk(report.nodes[0]!)).toBe(false);
  });
});
