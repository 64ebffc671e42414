// Health checks: cmd on the node, http from the deployer or the node, tcp; retried until a deadline.
import { connect } from "node:net";
import type { HealthCheck } from "../config/schema.js";
import type { NodeShell } from "../node/shell.js";
import { quoteShellArg as q } from "../ssh/quote.js";

export type CheckKind = "cmd" | "http" | "tcp";

export interface CheckOutcome {
  name: string;
  kind: CheckKind;
  description: string | null;
  passed: boolean;
  /** Duration of the last attempt. */
  latencyMs: number;
  attempts: number;
  /** What the last attempt said: command output, HTTP status and body, or the connection error. */
  output: string;
}

export interface CheckEnvironment {
  /** Runs `cmd` checks and `from: "node"` HTTP checks. */
  host: Pick<NodeShell, "run">;
  /** Where deployer-side checks connect: the node's targetHost. */
  targetHost: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Stop retrying (Ctrl-C). */
  signal?: AbortSignal;
  /** Told of every attempt: which check, which attempt, and what it saw. */
  onAttempt?: (check: string, attempt: number, passed: boolean, output: string) => void;
  /** One attempt per check, each within its timeout (status, `check --fast`): "healthy now?", not "healthy within the deadline". */
  once?: boolean;
}

interface Attempt {
  passed: boolean;
  output: string;
}

/** Run one check until it passes or its deadline passes. */
export async function runCheck(name: string, check: HealthCheck, env: CheckEnvironment): Promise<CheckOutcome> {
  const now = env.now ?? Date.now;
  const sleep = env.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const kind: CheckKind = check.cmd !== undefined ? "cmd" : check.http !== undefined ? "http" : "tcp";
  const deadline = now() + check.deadline * 1000;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const started = now();
    const attempt = await attemptCheck(check, env).catch((error: Error) => ({ passed: false, output: error.message }));
    const latencyMs = now() - started;
    const outcome = { name, kind, description: check.description ?? null, latencyMs, attempts, output: attempt.output.trim().slice(-2000) };
    env.onAttempt?.(name, attempts, attempt.passed, outcome.output);
    if (attempt.passed) return { ...outcome, passed: true };
    if (env.once || env.signal?.aborted || now() + check.interval * 1000 >= deadline) return { ...outcome, passed: false };
    await sleep(check.interval * 1000);
  }
}

/** Every check of a node, at once. */
export async function runHealthChecks(checks: Record<string, HealthCheck>, env: CheckEnvironment): Promise<CheckOutcome[]> {
  return Promise.all(Object.entries(checks).map(([name, check]) => runCheck(name, check, env)));
}

function attemptCheck(check: HealthCheck, env: CheckEnvironment): Promise<Attempt> {
  const timeoutMs = check.timeout * 1000;
  if (check.cmd !== undefined) return attemptCommand(check.cmd, timeoutMs, env);
  if (check.http !== undefined) {
    const http = check.http;
    const url = `${http.scheme}://${formatHost(http.host ?? env.targetHost)}:${http.port}${http.path.startsWith("/") ? "" : "/"}${http.path}`;
    return http.from === "node" ? attemptHttpOnNode(url, http, timeoutMs, env) : attemptHttp(url, http, timeoutMs);
  }
  const tcp = check.tcp!;
  return attemptTcp(tcp.host ?? env.targetHost, tcp.port, timeoutMs);
}

async function attemptCommand(cmd: string, timeoutMs: number, env: CheckEnvironment): Promise<Attempt> {
  const result = await env.host.run(cmd, { timeoutMs });
  const output = [result.stdout, result.stderr].filter((s) => s.trim() !== "").join("\n");
  if (result.timedOut) return { passed: false, output: `timed out after ${timeoutMs / 1000} s${output ? `\n${output}` : ""}` };
  return { passed: result.exitCode === 0, output: `exit ${result.exitCode}${output ? `\n${output}` : ""}` };
}

type HttpSettings = NonNullable<HealthCheck["http"]>;

function judgeHttp(status: number, body: string, http: HttpSettings): Attempt {
  const statusOk = http.status !== undefined ? status === http.status : status >= 200 && status < 300;
  const bodyOk = http.contains === undefined || body.includes(http.contains);
  const why = !statusOk
    ? `status ${status}${http.status !== undefined ? `, expected ${http.status}` : ", expected 2xx"}`
    : !bodyOk
      ? `status ${status}, but the body does not contain ${JSON.stringify(http.contains)}`
      : `status ${status}`;
  return { passed: statusOk && bodyOk, output: `${why}\n${body.slice(0, 500)}` };
}

async function attemptHttp(url: string, http: HttpSettings, timeoutMs: number): Promise<Attempt> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    return judgeHttp(response.status, await response.text(), http);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { passed: false, output: `GET ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}` };
  }
}

async function attemptHttpOnNode(url: string, http: HttpSettings, timeoutMs: number, env: CheckEnvironment): Promise<Attempt> {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const script = `if command -v curl >/dev/null 2>&1; then curl -s --max-time ${seconds} -w '\\n__hive_status=%{http_code}' ${q(url)};
elif command -v wget >/dev/null 2>&1; then wget -S -q -O - -T ${seconds} ${q(url)} 2>&1;
else echo "neither curl nor wget on the node"; exit 127; fi`;
  const result = await env.host.run(script, { timeoutMs: timeoutMs + 2000 });
  const out = result.stdout;
  const status = Number(/__hive_status=(\d+)/.exec(out)?.[1] ?? /HTTP\/\S+ (\d{3})/.exec(out)?.[1] ?? 0);
  if (status === 0) return { passed: false, output: `GET ${url} from the node: ${(out + result.stderr).trim() || `exit ${result.exitCode}`}` };
  return judgeHttp(status, out.replace(/\n?__hive_status=\d+\s*$/, ""), http);
}

function attemptTcp(host: string, port: number, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (attempt: Attempt) => {
      socket.destroy();
      resolve(attempt);
    };
    socket.setTimeout(timeoutMs, () => done({ passed: false, output: `${host}:${port}: no answer within ${timeoutMs / 1000} s` }));
    socket.once("connect", () => done({ passed: true, output: `${host}:${port} accepts connections` }));
    socket.once("error", (error: NodeJS.ErrnoException) => done({ passed: false, output: `${host}:${port}: ${error.code ?? error.message}` }));
  });
}

function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
