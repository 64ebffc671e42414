import { describe, expect, it } from "vitest";
import type { Node } from "../config/normalize.js";
import type { ExecOptions, ExecResult, SshConnection } from "../ssh/connection.js";
import { SshConnectError, SshDisconnectedError } from "../ssh/errors.js";
import { type ExecEvent, type ExecPlan, runFleetCommand } from "./exec.js";

function node(name: string, over: Partial<Node> = {}): Node {
  return { name, targetHost: name, targetPort: 22, targetUser: "root", privilegeEscalationCommand: ["sudo", "-H", "--"], tags: [], ...over } as Node;
}

type Behaviour = (command: string, options: ExecOptions) => Promise<ExecResult>;

function fakeConnection(run: Behaviour, closed: string[], name: string): SshConnection {
  return {
    target: {} as SshConnection["target"],
    latencyMs: 3,
    hostKey: { algorithm: "", keyType: "", fingerprint: "" },
    exec: run,
    close: () => void closed.push(name),
  };
}

const ok = (stdout = "", over: Partial<ExecResult> = {}): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: "", timedOut: false, aborted: false, ...over });

function plan(nodes: Node[], over: Partial<ExecPlan> = {}): ExecPlan {
  return { nodes, argv: ["echo", "hi"], sudo: false, parallel: 50, timeoutMs: undefined, ...over };
}

describe("runFleetCommand", () => {
  it("reports each node apart: exit 0, non-zero, unreachable, timeout, lost connection", async () => {
    const closed: string[] = [];
    const behaviours: Record<string, Behaviour> = {
      a: async (_c, o) => {
        o.onStdout?.(Buffer.from("hi\n"));
        return ok("hi\n");
      },
      b: async () => ok("", { exitCode: 3, stderr: "boom\n" }),
      d: async () => ok("partial", { exitCode: null, timedOut: true }),
      e: async () => {
        throw new SshDisconnectedError({ endpoint: { node: "e", host: "e", port: 22 }, reason: "reset" });
      },
      f: async () => ok("", { exitCode: null, signal: "KILL" }),
    };
    const events: ExecEvent[] = [];
    const report = await runFleetCommand(plan(["a", "b", "c", "d", "e", "f"].map((n) => node(n)), { timeoutMs: 1500 }), {
      connect: async (n) => {
        if (n.name === "c") throw new SshConnectError({ endpoint: { node: "c", host: "c", port: 22 }, reason: "connection refused" });
        return fakeConnection(behaviours[n.name]!, closed, n.name);
      },
      onEvent: (e) => events.push(e),
    });
    expect(report.nodes.map((n) => [n.name, n.result, n.outcome, n.exitCode, n.error?.code ?? null])).toEqual([
      ["a", "succeeded", "exited", 0, null],
      ["b", "failed", "exited", 3, null],
      ["c", "failed", "unreachable", null, "E_SSH_CONNECT"],
      ["d", "failed", "timed-out", null, "E_TIMEOUT"],
      ["e", "failed", "disconnected", null, "E_SSH_DISCONNECTED"],
      ["f", "failed", "exited", null, "E_SIGNAL"],
    ]);
    expect(report.nodes[3]!.stdout).toBe("partial");
    expect(report.nodes[3]!.error!.message).toBe("timed out after 1.5s; the command was killed");
    expect(report.interrupted).toBe(false);
    expect(closed.sort()).toEqual(["a", "b", "d", "e", "f"]);
    expect(events.filter((e) => e.kind === "output").map((e) => e.node)).toEqual(["a"]);
    expect(events.filter((e) => e.kind === "finished")).toHaveLength(6);
  });

  it("quotes every argument for the node's shell and escalates only with sudo for non-root users", async () => {
    const commands: Record<string, string> = {};
    const connect = async (n: Node) => fakeConnection(async (c) => ((commands[n.name] = c), ok()), [], n.name);
    const argv = ["printf", "%s\n", "it's", "$(id)", "", "-n"];
    await runFleetCommand(plan([node("r"), node("u", { targetUser: "deploy" })], { argv, sudo: true }), { connect });
    expect(commands["r"]).toBe(`printf '%s\n' 'it'\\''s' '$(id)' '' -n`);
    expect(commands["u"]).toBe(`sudo -H -- printf '%s\n' 'it'\\''s' '$(id)' '' -n`);
    await runFleetCommand(plan([node("u", { targetUser: "deploy" })], { argv: ["id"] }), { connect });
    expect(commands["u"]).toBe("id");
  });

  it("runs at most `parallel` nodes at once", async () => {
    let running = 0;
    let peak = 0;
    const connect = async (n: Node) =>
      fakeConnection(
        async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return ok();
        },
        [],
        n.name,
      );
    const report = await runFleetCommand(plan(Array.from({ length: 20 }, (_, i) => node(`n${i}`)), { parallel: 3 }), { connect });
    expect(peak).toBe(3);
    expect(report.nodes.every((n) => n.result === "succeeded")).toBe(true);
  });

  it("on abort: running commands are stopped, connecting nodes interrupted, the rest skipped", async () => {
    const abort = new AbortController();
    const connect = async (n: Node): Promise<SshConnection> => {
      if (n.name === "slow") return new Promise(() => {});
      return fakeConnection(
        (_c, o) =>
          new Promise((resolve) => {
            o.signal?.addEventListener("abort", () => resolve(ok("", { exitCode: null, timedOut: true, aborted: true })));
            setTimeout(() => abort.abort(), 1);
          }),
        [],
        n.name,
      );
    };
    const report = await runFleetCommand(plan([node("run"), node("slow"), node("later")], { parallel: 2 }), { connect, signal: abort.signal });
    expect(report.interrupted).toBe(true);
    expect(report.nodes.map((n) => [n.name, n.outcome])).toEqual([
      ["run", "interrupted"],
      ["slow", "interrupted"],
      ["later", "skipped"],
    ]);
    expect(report.nodes[2]!.result).toBe("skipped");
  });
});
