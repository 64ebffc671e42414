// `hive check --notify`: alerts on state changes only. A small state file per hive.ts (private to
// the user) remembers each check's last state, so a cron job every 5 minutes alerts once when a
// check starts failing (degraded) and once when it passes again (recovered), never on every run.
// A command gets the JSON payload on stdin (never in argv), a URL gets it as a POST.
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NodeHealth } from "./check.js";
import type { ProcessRunner } from "../nix/runner.js";
import type { RunContext } from "../run-context.js";
import { ensurePrivateDir } from "../util/private-dir.js";

/** One alert: what changed, since when, and what the check last said. */
export interface AlertPayload {
  node: string;
  /** The health check; null for the node itself (unreachable over SSH). */
  check: string | null;
  state: "degraded" | "recovered";
  /** When the new state was first seen (now, for a change). */
  since: string;
  /** For a recovery: since when it had been degraded. */
  degradedSince: string | null;
  output: string;
  hiveFile: string;
}

interface SubjectState {
  state: "ok" | "failing";
  since: string;
}

export interface AlertState {
  version: 1;
  hiveFile: string;
  /** By `node` or `node/check`. */
  subjects: Record<string, SubjectState>;
}

export interface Delivery {
  alert: AlertPayload;
  delivered: boolean;
  error: string | null;
}

/** Where the state of a hive.ts's alerts is kept: $XDG_STATE_HOME/hive/alerts (0700), one file per hive.ts. */
export function alertStateFile(hiveFile: string, env: NodeJS.ProcessEnv = process.env, home = env["HOME"] ?? "/"): string {
  const base = env["XDG_STATE_HOME"] || join(home, ".local", "state");
  const key = createHash("sha256").update(hiveFile).digest("hex").slice(0, 16);
  return join(base, "hive", "alerts", `${key}.json`);
}

export function readAlertState(file: string, hiveFile: string): AlertState {
  try {
    const state = JSON.parse(readFileSync(file, "utf8")) as AlertState;
    if (state.version === 1 && state.hiveFile === hiveFile && typeof state.subjects === "object") return state;
  } catch {
    // No state yet (first run), or one hive can not read: start afresh.
  }
  return { version: 1, hiveFile, subjects: {} };
}

/** Written whole or not at all (a temp file in the same private directory, renamed over it). */
export function writeAlertState(file: string, state: AlertState): void {
  const dir = ensurePrivateDir(dirname(file));
  const temp = join(dir, `.${process.pid}.tmp`);
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

/**
 * The alerts this run's results call for, and the state after them. A node that could not be
 * reached is one subject (its checks did not run: their states stay as they were). A check seen
 * failing for the first time alerts; one seen passing for the first time does not.
 */
export function diffAlerts(previous: AlertState, report: readonly NodeHealth[], now: string): { alerts: AlertPayload[]; next: AlertState } {
  const next: AlertState = { ...previous, subjects: { ...previous.subjects } };
  const alerts: AlertPayload[] = [];
  const see = (node: string, check: string | null, failing: boolean, output: string) => {
    const key = check === null ? node : `${node}/${check}`;
    const before = previous.subjects[key];
    const state = failing ? "failing" : "ok";
    if (before?.state === state) return;
    next.subjects[key] = { state, since: now };
    if (failing || before !== undefined) {
      alerts.push({ node, check, state: failing ? "degraded" : "recovered", since: now, degradedSince: failing ? null : (before?.since ?? null), output, hiveFile: previous.hiveFile });
    }
  };
  for (const node of report) {
    see(node.name, null, !node.reachable, node.reachable ? "reachable" : (node.error?.message ?? "unreachable"));
    if (!node.reachable) continue;
    for (const check of node.checks) see(node.name, check.name, !check.passed, check.output);
  }
  return { alerts, next };
}

/** Sends one alert: `target` is a URL (POST, JSON body) or a shell command (payload on stdin). */
export async function deliverAlert(target: string, alert: AlertPayload, runner: ProcessRunner, signal?: AbortSignal): Promise<Delivery> {
  const body = `${JSON.stringify(alert)}\n`;
  const timeout = AbortSignal.timeout(30_000);
  const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    if (/^https?:\/\//i.test(target)) {
      const response = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body, signal: abort });
      await response.body?.cancel();
      return response.ok ? { alert, delivered: true, error: null } : { alert, delivered: false, error: `${target} answered ${response.status} ${response.statusText}` };
    }
    const run = await runner.run("sh", ["-c", target], { input: body, signal: abort });
    if (run.exitCode === 0) return { alert, delivered: true, error: null };
    const said = run.stderr.trim().split("\n").at(-1);
    return { alert, delivered: false, error: `the notify command exited ${run.exitCode}${said ? `: ${said}` : ""}` };
  } catch (error) {
    return { alert, delivered: false, error: `could not notify ${target}: ${(error as Error).message}` };
  }
}

/**
 * Sends every alert the results call for (one at a time, in order) and keeps the new state; a
 * subject whose alert could not be delivered keeps its old state, so the next run tries again.
 */
export async function notifyChanges(target: string, report: readonly NodeHealth[], options: { stateFile: string; hiveFile: string; runner: ProcessRunner; now: () => number; signal?: AbortSignal }): Promise<Delivery[]> {
  // Checked before it is read: a state file planted by another user could silence alerts.
  ensurePrivateDir(dirname(options.stateFile));
  const previous = readAlertState(options.stateFile, options.hiveFile);
  const { alerts, next } = diffAlerts(previous, report, new Date(options.now()).toISOString());
  const deliveries: Delivery[] = [];
  for (const alert of alerts) {
    const delivery = await deliverAlert(target, alert, options.runner, options.signal);
    deliveries.push(delivery);
    if (!delivery.delivered) {
      const key = alert.check === null ? alert.node : `${alert.node}/${alert.check}`;
      if (previous.subjects[key] === undefined) delete next.subjects[key];
      else next.subjects[key] = previous.subjects[key]!;
    }
  }
  writeAlertState(options.stateFile, next);
  return deliveries;
}

/** `hive check --notify TARGET`: the alerts of this run, sent, each told to the reporter. */
export async function notifyFleet(target: string, report: readonly NodeHealth[], context: RunContext): Promise<Delivery[]> {
  const deliveries = await notifyChanges(target, report, {
    stateFile: alertStateFile(context.hive.file, context.env ?? process.env),
    hiveFile: context.hive.file,
    runner: context.runner,
    now: context.now,
    signal: context.signal,
  });
  for (const d of deliveries) context.reporter.emit({ code: "check.alert", node: d.alert.node, check: d.alert.check, state: d.alert.state, delivered: d.delivered, error: d.error });
  return deliveries;
}
