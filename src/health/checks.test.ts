import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthCheckSchema } from "../config/schema.js";
import type { CommandResult } from "../host/host.js";
import { runCheck } from "./checks.js";

const check = (input: unknown) => healthCheckSchema.parse(input);
let http: ReturnType<typeof createHttpServer>;
let tcp: Server;
let httpPort = 0;
let tcpPort = 0;
let closedPort = 0;

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    if (req.url === "/health") res.end("all good");
    else if (req.url === "/teapot") {
      res.statusCode = 418;
      res.end("short and stout");
    } else {
      res.statusCode = 404;
      res.end("no");
    }
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpPort = (http.address() as AddressInfo).port;
  tcp = createServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  tcpPort = (tcp.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(() => {
  http.close();
  tcp.close();
});

const noHost = { run: async (): Promise<CommandResult> => ({ exitCode: 0, stdout: "", stderr: "", timedOut: false }) };
const env = { host: noHost, targetHost: "127.0.0.1" };

describe("health checks", () => {
  it("http passes on 2xx with the expected text, fails on another status", async () => {
    const ok = await runCheck("web", check({ http: { port: httpPort, path: "/health", contains: "good" } }), env);
    expect(ok).toMatchObject({ name: "web", kind: "http", passed: true, attempts: 1 });
    const missing = await runCheck("web", check({ http: { port: httpPort, path: "/nope" }, interval: 0.05, deadline: 0.3 }), env);
    expect(missing.passed).toBe(false);
    expect(missing.attempts).toBeGreaterThan(1);
    expect(missing.output).toMatch(/^status 404, expected 2xx/);
  });

  it("http honours an explicit status and a body it must contain", async () => {
    expect((await runCheck("t", check({ http: { port: httpPort, path: "/teapot", status: 418 } }), env)).passed).toBe(true);
    const wrong = await runCheck("t", check({ http: { port: httpPort, path: "/health", contains: "bad" }, deadline: 0.1 }), env);
    expect(wrong.output).toMatch(/does not contain "bad"/);
  });

  it("tcp passes when the port accepts and fails, retrying until the deadline, when it does not", async () => {
    expect((await runCheck("ssh", check({ tcp: { port: tcpPort } }), env)).passed).toBe(true);
    const started = Date.now();
    const closed = await runCheck("ssh", check({ tcp: { port: closedPort }, interval: 0.05, deadline: 0.4 }), env);
    expect(closed.passed).toBe(false);
    expect(closed.output).toContain("ECONNREFUSED");
    expect(closed.attempts).toBeGreaterThan(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("cmd runs on the node and passes on exit 0; its output is kept", async () => {
    const results: CommandResult[] = [
      { exitCode: 3, stdout: "", stderr: "degraded", timedOut: false },
      { exitCode: 0, stdout: "running", stderr: "", timedOut: false },
    ];
    const scripts: string[] = [];
    const host = { run: async (script: string) => (scripts.push(script), results.shift()!) };
    const outcome = await runCheck("units", check({ cmd: "systemctl is-system-running", interval: 0.01 }), { host, targetHost: "x" });
    expect(outcome).toMatchObject({ kind: "cmd", passed: true, attempts: 2 });
    expect(scripts).toEqual(["systemctl is-system-running", "systemctl is-system-running"]);
  });
});
