import { createServer } from "node:http";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execaRunner } from "../nix/runner.js";
import { type AlertState, alertStateFile, diffAlerts, notifyChanges } from "./alerts.js";
import type { NodeHealth } from "./check.js";

const HIVE = "/fleet/hive.ts";
const check = (name: string, passed: boolean, output = passed ? "status 200" : "status 503") => ({ name, kind: "http" as const, description: null, passed, latencyMs: 3, attempts: 1, output });
const node = (name: string, checks: ReturnType<typeof check>[], reachable = true): NodeHealth => ({
  name,
  healthy: reachable && checks.every((c) => c.passed),
  reachable,
  error: reachable ? null : { code: "E_SSH_CONNECT", message: `${name}: connection refused` },
  checks: reachable ? checks : [],
});
const empty: AlertState = { version: 1, hiveFile: HIVE, subjects: {} };

describe("diffAlerts", () => {
  it("alerts once when a check starts failing, not while it keeps failing, and once when it recovers", () => {
    const first = diffAlerts(empty, [node("web-1", [check("web", true)])], "T0");
    expect(first.alerts).toEqual([]); // passing for the first time is no news
    const down = diffAlerts(first.next, [node("web-1", [check("web", false)])], "T1");
    expect(down.alerts).toEqual([{ node: "web-1", check: "web", state: "degraded", since: "T1", degradedSince: null, output: "status 503", hiveFile: HIVE }]);
    expect(diffAlerts(down.next, [node("web-1", [check("web", false)])], "T2").alerts).toEqual([]);
    const up = diffAlerts(down.next, [node("web-1", [check("web", true)])], "T3");
    expect(up.alerts).toEqual([{ node: "web-1", check: "web", state: "recovered", since: "T3", degradedSince: "T1", output: "status 200", hiveFile: HIVE }]);
  });

  it("an unreachable node is one alert, and its checks keep their last state", () => {
    const healthy = diffAlerts(empty, [node("db-1", [check("pg", true), check("disk", true)])], "T0").next;
    const cut = diffAlerts(healthy, [node("db-1", [], false)], "T1");
    expect(cut.alerts.map((a) => [a.node, a.check, a.state, a.output])).toEqual([["db-1", null, "degraded", "db-1: connection refused"]]);
    expect(cut.next.subjects["db-1/pg"]).toEqual({ state: "ok", since: "T0" });
    const back = diffAlerts(cut.next, [node("db-1", [check("pg", true), check("disk", false)])], "T2");
    expect(back.alerts.map((a) => [a.check, a.state])).toEqual([[null, "recovered"], ["disk", "degraded"]]);
  });
});

describe("notifyChanges", () => {
  it("gives a command the payload on stdin, keeps the state in a private file, and retries an alert that was not delivered", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-alerts-"));
    const stateFile = alertStateFile(HIVE, { XDG_STATE_HOME: join(dir, "state") });
    const received = join(dir, "received");
    const options = { stateFile, hiveFile: HIVE, runner: execaRunner, now: () => Date.parse("2026-01-01T00:00:00Z") };
    const failing = [node("web-1", [check("web", false)])];
    // The command fails: nothing is remembered, so the next run alerts again.
    const refused = await notifyChanges("echo 'no route' >&2; exit 7", failing, options);
    expect(refused.map((d) => [d.delivered, d.error])).toEqual([[false, "the notify command exited 7: no route"]]);
    const sent = await notifyChanges(`cat >> ${received}`, failing, options);
    expect(sent.map((d) => d.delivered)).toEqual([true]);
    expect(JSON.parse(readFileSync(received, "utf8"))).toMatchObject({ node: "web-1", check: "web", state: "degraded", since: "2026-01-01T00:00:00.000Z", output: "status 503" });
    expect(await notifyChanges(`cat >> ${received}`, failing, options)).toEqual([]);
    expect(statSync(join(dir, "state", "hive", "alerts")).mode & 0o777).toBe(0o700);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
  });

  it("POSTs the payload as JSON to a URL", async () => {
    const bodies: { type: string | undefined; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        bodies.push({ type: req.headers["content-type"], body });
        res.writeHead(req.url === "/broken" ? 500 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    const dir = mkdtempSync(join(tmpdir(), "hive-alerts-"));
    const options = { stateFile: join(dir, "hive", "alerts.json"), hiveFile: HIVE, runner: execaRunner, now: Date.now };
    try {
      const broken = await notifyChanges(`http://127.0.0.1:${port}/broken`, [node("a", [check("x", false)])], options);
      expect(broken[0]!.error).toBe(`http://127.0.0.1:${port}/broken answered 500 Internal Server Error`);
      const sent = await notifyChanges(`http://127.0.0.1:${port}/hook`, [node("a", [check("x", false)])], options);
      expect(sent[0]!.delivered).toBe(true);
      expect(bodies[1]!.type).toBe("application/json");
      expect(JSON.parse(bodies[1]!.body)).toMatchObject({ node: "a", check: "x", state: "degraded" });
    } finally {
      server.close();
    }
  });
});
