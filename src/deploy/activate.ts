// Activation policy for one node: activate under supervision, verify, upload post-activation
// keys, run health checks, and only then confirm; on any failure the node returns to what it ran.
import type { Node } from "../config/normalize.js";
import { type ErrorCode, type ErrorSummary, errorLog, summarizeError } from "../errors.js";
import type { Activation, ActivationRun } from "../activation/run-activation.js";
import type { SupervisorOptions } from "../activation/supervisor.js";
import { type CheckOutcome, runHealthChecks } from "../health/checks.js";
import type { Host } from "../host/host.js";
import type { NodeState } from "../node/facts.js";
import type { DeploymentRecord } from "../node/record.js";
import { type Goal, goalSetsProfile } from "../plan/goal.js";
import type { Finish, OutcomeTracker } from "./outcomes.js";

export interface ActivationUnit {
  node: Node;
  rollback: boolean;
  /** Seconds the node waits for hive's decision after activation; 0: none (hive rolls back itself). */
  decisionWindow: number;
  system: string;
  goal: Goal;
  profileAction: SupervisorOptions["profile_action"];
  record: DeploymentRecord;
  /** lockGuardScript of this run's lock: the launch is refused once the lock was lost. */
  guard?: string;
  /** Runs once the node verifiably runs the new system, before health checks (post-activation keys). */
  afterActivation?: () => Promise<void>;
}

/** Activate `unit.system` and settle the node's result in `tracker`. */
export async function activateAndCheck(host: Host, unit: ActivationUnit, tracker: OutcomeTracker): Promise<void> {
  const name = unit.node.name;
  const done = (finish: Finish) => tracker.finish(name, finish);
  tracker.phase(name, "activate");
  const activation = await host.activate(
    {
      profile: unit.node.profile,
      system: unit.system,
      goal: unit.goal,
      profile_action: unit.profileAction,
      confirmTimeout: unit.decisionWindow,
      rollbackOnFailure: unit.rollback && unit.goal !== "dry-activate",
      writeRecord: unit.profileAction.kind === "set",
    },
    unit.record,
    { onLine: (line) => tracker.log(name, line, "activation"), ...(unit.guard === undefined ? {} : { guard: unit.guard }), timeoutMs: unit.node.activationTimeout * 1000 },
  );
  const activationLog = [...tracker.logOf(name)];
  const run = activation.run;
  const failed = describeActivationFailure(run, unit, activationLog);
  if (failed !== null) return done(failed);
  if (unit.goal === "dry-activate") return done({ result: "succeeded", changes: dryActivationChanges(activationLog) });

  tracker.phase(name, "verify");
  // Read by the poll that brought the activation's end: no extra round trip.
  const mismatch = verificationProblem(unit.goal, run.state, unit.system);
  if (mismatch !== null) return settle(host, activation, unit, tracker, { code: "E_VERIFY", message: mismatch }, []);
  try {
    await unit.afterActivation?.();
  } catch (error) {
    return settle(host, activation, unit, tracker, summarizeError(error), errorLog(error));
  }

  let checks: CheckOutcome[] = [];
  if ((unit.goal === "switch" || unit.goal === "test") && Object.keys(unit.node.healthChecks).length > 0) {
    tracker.phase(name, "check");
    checks = await runNodeChecks(host, unit.node, tracker);
    const failedChecks = checks.filter((c) => !c.passed);
    if (failedChecks.length > 0) return settle(host, activation, unit, tracker, healthFailure(failedChecks), checkLog(failedChecks), checks);
  }
  if (run.result !== "awaiting-decision") return done({ result: "succeeded", checks });
  const final = await activation.confirm();
  if (final.result === "confirmed") return done({ result: "succeeded", checks });
  return done({ ...describeFinal(final, { code: "E_UNCONFIRMED", message: `hive's confirmation did not reach the node within its ${unit.decisionWindow} s window` }), checks });
}

/** Health checks with each attempt reported (the live view shows which check and what it last saw). */
export function runNodeChecks(host: Host, node: Node, tracker: OutcomeTracker, signal?: AbortSignal): Promise<CheckOutcome[]> {
  return runHealthChecks(node.healthChecks, {
    host,
    targetHost: node.targetHost,
    ...(signal ? { signal } : {}),
    onAttempt: (check, attempt, passed, output) => tracker.reportCheck(node.name, check, attempt, passed, output),
  });
}

/**
 * The new system failed after activation (verification, keys or checks): return to the previous
 * one, through the supervisor when it waits for the decision, else by activating it again.
 */
async function settle(
  host: Host,
  activation: Activation,
  unit: ActivationUnit,
  tracker: OutcomeTracker,
  why: ErrorSummary,
  log: readonly string[],
  checks: CheckOutcome[] = [],
): Promise<void> {
  const name = unit.node.name;
  const run = activation.run;
  if (!unit.rollback) {
    if (run.result === "awaiting-decision") await activation.confirm({ code: why.code, message: `${why.message}; rollback is off, left as is` });
    return tracker.finish(name, { result: "failed", error: { ...why, message: `${why.message}; rollback is off, left as is` }, log, checks });
  }
  if (run.prevSystem === null || (unit.profileAction.kind !== "none" && run.prevGeneration === null)) {
    if (run.result === "awaiting-decision") await activation.confirm({ code: why.code, message: `${why.message}; nothing to return to (first deployment), left as is` });
    return tracker.finish(name, { result: "failed", error: { ...why, message: `${why.message}; nothing to return to (first deployment), left as is` }, log, checks });
  }
  tracker.phase(name, "rollback");
  const final = run.result === "awaiting-decision" ? await activation.reject(why) : await returnToPrevious(host, unit, run, tracker, why);
  tracker.finish(name, { ...describeFinal(final, why), log, checks });
}

/**
 * Without a supervisor waiting for the decision (magic rollback off): activate what the node ran
 * before (switch: the previous generation; test: the previous system) and verify it.
 */
async function returnToPrevious(host: Host, unit: ActivationUnit, run: ActivationRun, tracker: OutcomeTracker, why: ErrorSummary): Promise<ActivationRun> {
  const setsProfile = unit.profileAction.kind !== "none";
  const back = await host.activate(
    {
      profile: unit.node.profile,
      system: run.prevSystem!,
      goal: unit.goal === "test" ? "test" : "switch",
      profile_action: setsProfile ? { kind: "switch-generation", generation: run.prevGeneration! } : { kind: "none" },
      confirmTimeout: 0,
      rollbackOnFailure: false,
      writeRecord: false,
      reason: why,
    },
    { ...unit.record, system: run.prevSystem!, goal: "rollback" },
    { onLine: (line) => tracker.log(unit.node.name, line, "activation"), ...(unit.guard === undefined ? {} : { guard: unit.guard }), timeoutMs: unit.node.activationTimeout * 1000 },
  );
  const final = back.run;
  if (final.result !== "activated") return { ...final, result: final.result === "lost" ? "lost" : "revert-failed", prevSystem: run.prevSystem, prevGeneration: run.prevGeneration };
  if (final.state.current !== run.prevSystem) {
    return { ...final, result: "revert-failed", problem: `the node runs ${final.state.current ?? "nothing known"}, not ${run.prevSystem}` };
  }
  return { ...final, prevSystem: run.prevSystem, prevGeneration: run.prevGeneration };
}

/** A final activation result as the node's outcome; `why` is what made hive (or the node) turn back. */
function describeFinal(final: ActivationRun, why: ErrorSummary): Finish {
  const back = describePrevious(final);
  switch (final.result) {
    case "reverted-rejected":
    case "reverted-unconfirmed":
    case "activated": // a hive-driven return to the previous system
      return { result: "rolled-back", error: { ...why, message: `${why.message}; returned to ${back}` } };
    case "confirmed":
      return { result: "failed", error: why };
    case "revert-failed":
      return { result: "failed", error: { code: "E_ROLLBACK_FAILED", message: `${why.message}; returning to ${back} failed too: the node needs attention` } };
    default:
      return {
        result: "failed",
        error: { code: final.result === "lost" ? "E_LOST" : why.code, message: `${why.message}; ${final.problem ?? `the node ended with ${final.result}`}` },
      };
  }
}

/** A failed or unfollowed activation as the node's outcome; null when it activated. */
function describeActivationFailure(run: ActivationRun, unit: ActivationUnit, log: readonly string[]): Finish | null {
  const failure = activationError(run.activationExit, log);
  const back = describePrevious(run);
  switch (run.result) {
    case "profile-failed":
      return { result: "failed", error: { code: "E_PROFILE", message: `could not set the profile ${unit.node.profile}; nothing changed` }, log };
    case "reverted-failed":
      return { result: "rolled-back", error: { code: failure.code, message: `${failure.message}; returned to ${back}` }, log };
    case "failed":
      return {
        result: "failed",
        error: {
          code: failure.code,
          message: unit.rollback && unit.goal !== "dry-activate" ? `${failure.message}; nothing to return to (first deployment), left as is` : failure.message,
        },
        log,
      };
    case "revert-failed":
      return { result: "failed", error: { code: "E_ROLLBACK_FAILED", message: `${failure.message}; returning to the previous system failed too: the node needs attention` }, log };
    case "reverted-unconfirmed":
      return { result: "rolled-back", error: { code: "E_UNCONFIRMED", message: `hive's confirmation did not reach the node within ${unit.decisionWindow} s; it returned to ${back}` }, log };
    case "reverted-rejected":
    case "confirmed":
      return { result: "failed", error: { code: "E_NODE", message: `the activation ended with ${run.result} before hive decided` }, log };
    case "lost":
      return { result: "failed", error: { code: "E_LOST", message: run.problem ?? "lost the node during activation" }, log };
    case "activated":
    case "awaiting-decision":
      return null;
  }
}

function describePrevious(run: ActivationRun): string {
  return run.prevGeneration !== null ? `generation ${run.prevGeneration} (${run.prevSystem ?? "?"})` : `the previous system (${run.prevSystem ?? "?"})`;
}

function verificationProblem(goal: Goal, state: NodeState, outPath: string): string | null {
  if ((goal === "switch" || goal === "test") && state.current !== outPath) {
    return `activation reported success, but the node runs ${state.current ?? "nothing known"} instead of ${outPath}`;
  }
  if (goalSetsProfile(goal) && state.profile !== outPath) {
    return `activation reported success, but the profile names ${state.profile ?? "nothing"} instead of ${outPath}`;
  }
  return null;
}

function healthFailure(failed: readonly CheckOutcome[]): ErrorSummary {
  return { code: "E_HEALTH", message: `health check ${failed.map((c) => c.name).join(", ")} failed: ${failed[0]!.output.split("\n").filter((l) => l.trim() !== "").slice(0, 3).join(" / ")}` };
}

function checkLog(failed: readonly CheckOutcome[]): string[] {
  return failed.flatMap((c) => [`check ${c.name} (${c.attempts} attempts):`, ...c.output.split("\n")]);
}

/**
 * switch-to-configuration's own error line: of what it printed before the supervisor noted its
 * exit, the last line that says `error`, else its last line; never hive's words, nor what the
 * return to the previous system printed afterwards.
 */
export function activationError(exitCode: number | null, output: readonly string[]): { code: ErrorCode; message: string } {
  const end = output.findIndex((l) => /^hive: switch-to-configuration \S+ exited/.test(l));
  const own = (end === -1 ? output : output.slice(0, end)).filter((l) => l.trim() !== "" && !l.startsWith("hive: "));
  if (exitCode === 4) {
    const units = parseFailedUnits(output.join("\n"));
    return { code: "E_UNITS_FAILED", message: `switch-to-configuration exited 4: some units failed${units.length > 0 ? `: ${units.join(", ")}` : ""}` };
  }
  const last = own.filter((l) => /\berror\b/i.test(l)).at(-1) ?? own.at(-1);
  return { code: "E_ACTIVATION", message: `switch-to-configuration exited ${exitCode ?? "without a status"}${last ? `: ${last}` : ""}` };
}

/** Units NixOS names when switch-to-configuration exits 4. */
export function parseFailedUnits(output: string): string[] {
  const match = /the following units failed: (.+)/.exec(output);
  return match ? match[1]!.split(/[,\s]+/).filter((u) => u !== "") : [];
}

/** What `switch-to-configuration dry-activate` says it would do: its own lines, without hive's. */
export function dryActivationChanges(output: readonly string[]): string[] {
  return output.filter((l) => l.trim() !== "" && !l.startsWith("hive: "));
}
