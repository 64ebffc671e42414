import { describe, expect, it } from "vitest";
import type { Node } from "../config/normalize.js";
import type { HiveEvent } from "../events.js";
import type { Host } from "../host/host.js";
import type { ExecOptions, ExecResult } from "../ssh/connection.js";
import { SshConnectError, SshDisconnectedError } from "../ssh/errors.js";
import { fakeHost } from "../../test/support/fake-host.js";
import type { Hive } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import { type ExecContext, type ExecPlan, MAX_COMMAND_BYTES, planExec, resultOf, runFleetCommand } from "./exec.js";

function node(name: string, over: Partial<Node> = {}): Node {
  return { name, targetHost: name, targetPort: 22, targetUser: "root", privilegeEscalationCommand: ["sudo", "-H", "--"], tags: [], ...over } as Node;
}

type Behaviour = (argv: readonly string[], options: ExecOptions & { asRoot: boolean }) => Promise<ExecResult>;

/** A Host that only connects, runs a command and closes: what `hive exec` uses of it. */
function host(n: Node, run: Behaviour, closed: string[], connect: () => Promise<unknown> = async () => undefined): Host {
  return fakeHost(n, {
    connect: async () => {
      await connect();
      return { latencyMs: 3 };
    },
    exec: run,
    close: () => void closed.push(n.name),
  });
}

function context(hostFor: (n: Node) => Host, events: HiveEvent[] = [], signal = new AbortController().signal): ExecContext {
  return { hostFor, reporter: { emit: (e) => void events.push(e) }, signal, now: Date.now };
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
    const events: HiveEvent[] = [];
    const refuse = async () => {
      throw new SshConnectError({ endpoint: { node: "c", host: "c", port: 22 }, reason: "connection refused" });
    };
    const report = await runFleetCommand(
      plan(["a", "b", "c", "d", "e", "f"].map((n) => node(n)), { timeoutMs: 1500 }),
      context((n) => (n.name === "c" ? host(n, async () => ok(), closed, refuse) : host(n, behaviours[n.name]!, closed)), events),
    );
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
    expect(events.flatMap((e) => (e.code === "exec.output" ? [e.node] : []))).toEqual(["a"]);
    expect(events.filter((e) => e.code === "exec.finished")).toHaveLength(6);
  });

  it("hands the argv to the node as given, as root only with sudo", async () => {
    const seen: Record<string, { argv: readonly string[]; asRoot: boolean }> = {};
    const hostFor = (n: Node) => host(n, async (argv, o) => ((seen[n.name] = { argv, asRoot: o.asRoot }), ok()), []);
    const argv = ["printf", "%s\n", "it's", "$(id)", "", "-n"];
    await runFleetCommand(plan([node("u", { targetUser: "deploy" })], { argv, sudo: true }), context(hostFor));
    expect(seen["u"]).toEqual({ argv, asRoot: true });
    await runFleetCommand(plan([node("u", { targetUser: "deploy" })], { argv: ["id"] }), context(hostFor));
    expect(seen["u"]).toEqual({ argv: ["id"], asRoot: false });
  });

  it("runs at most `parallel` nodes at once", async () => {
    let running = 0;
    let peak = 0;
    const hostFor = (n: Node) =>
      host(
        n,
        async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return ok();
        },
        [],
      );
    const report = await runFleetCommand(plan(Array.from({ length: 20 }, (_, i) => node(`n${i}`)), { parallel: 3 }), context(hostFor));
    expect(peak).toBe(3);
    expect(report.nodes.every((n) => n.result === "succeeded")).toBe(true);
  });

  it("on abort: running commands are stopped, connecting nodes interrupted, the rest skipped", async () => {
    const abort = new AbortController();
    const hostFor = (n: Node): Host =>
      host(
        n,
        (_argv, o) =>
          new Promise((resolve) => {
            o.signal?.addEventListener("abort", () => resolve(ok("", { exitCode: null, timedOut: true, aborted: true })));
            setTimeout(() => abort.abort(), 1);
          }),
        [],
        n.name === "slow" ? () => new Promise(() => {}) : undefined,
      );
    const report = await runFleetCommand(plan([node("run"), node("slow"), node("later")], { parallel: 2 }), context(hostFor, [], abort.signal));
    expect(report.interrupted).toBe(true);
    expect(report.nodes.map((n) => [n.name, n.outcome])).toEqual([
      ["run", "interrupted"],
      ["slow", "interrupted"],
      ["later", "skipped"],
    ]);
    expect(report.nodes[2]!.result).toBe("skipped");
  });
});

describe("planExec and resultOf: limits said plainly", () => {
  const hive = (nodes: Node[]) => ({ nodes }) as unknown as Hive;

  it("refuses a command line longer than a node takes, before anything runs, pointing at --stdin", () => {
    const parts = Array.from({ length: 16 }, () => "x".repeat(64 * 1024));
    const error = (() => {
      try {
        planExec(hive([node("a")]), ["echo", ...parts], {});
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect([error!.message, error!.hint]).toEqual([
      "the command is too long for the node's command line: 1.0 MiB once quoted, and a node takes at most 127 KiB",
      "send large data on standard input instead: hive exec --stdin -- sh -c 'cat > FILE' < LOCAL-FILE",
    ]);
    // Quoting and the sudo prefix count too; just under the limit passes.
    expect(planExec(hive([node("a")]), ["x".repeat(MAX_COMMAND_BYTES - 2)], {}).argv).toHaveLength(1);
    expect(() => planExec(hive([node("a", { targetUser: "deploy" })]), ["x".repeat(MAX_COMMAND_BYTES - 2)], { sudo: true })).toThrow(UsageError);
  });

  it("says when a stopped command's node never confirmed the kill", () => {
    const stopped = { exitCode: null, signal: null, stdout: "", stderr: "", timedOut: true, aborted: false };
    expect(resultOf("a", stopped, 3000, 3000).error!.message).toBe("timed out after 3s; the command was killed");
    expect(resultOf("a", { ...stopped, stopUnconfirmed: true }, 5000, 3000).error!.message).toBe(
      "timed out after 3s; hive told the node to kill the command, but the node did not answer within 2s: it may still run there",
    );
  });
});
