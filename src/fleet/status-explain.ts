// Why a node is as it is, in words: the cause of a drift (read from the node's event log and
// deployment records), the state of its services and keys, and when it really was activated. Pure.
import type { Node } from "../config/normalize.js";
import type { HostFacts } from "../host/host.js";
import type { NodeEvent } from "../node/events.js";
import { type Generation, runningGeneration } from "../node/facts.js";
import type { NodeResources } from "../node/probes.js";
import type { DeploymentRecord } from "../node/record.js";

/**
 * rolled-back: the last deploy failed and the node returned to what it ran; failed: the last
 * deploy failed (and left the node as it was, or as it failed); rollback: an operator's `hive
 * rollback`; changed-outside-hive: the node runs a system hive did not put there last;
 * never-deployed: hive has no record of deploying it; hive-ts-changed: it runs hive's last deploy,
 * and hive.ts (or the flake) changed since; profile: the running system is right, the next boot is not.
 */
export type DriftCause = "rolled-back" | "failed" | "rollback" | "changed-outside-hive" | "never-deployed" | "hive-ts-changed" | "profile";

export interface Explanation {
  cause: DriftCause;
  /** One sentence. */
  message: string;
  /** When the event that explains it happened, ISO 8601. */
  at: string | null;
}

export interface ServiceStatus {
  name: string;
  unit: string;
  /** `active (running)`, `failed (failed)`, `not-found`; null where systemd does not run. */
  unitState: string | null;
  port: number | null;
  /** Something listens on the port, on the node; null without a port (or when unreadable). */
  listening: boolean | null;
  check: string | null;
  /** The check's result now; null without a check. */
  healthy: boolean | null;
  /** False when anything known is wrong; null when nothing is known. */
  up: boolean | null;
  /** What is wrong, one line. */
  problem: string | null;
}

export interface KeysStatus {
  /** Keys hive.ts gives the node that are not on it. */
  missing: { name: string; path: string; placedBefore: boolean }[];
  /** Files hive placed for keys hive.ts no longer has (the next apply removes them). */
  stale: { name: string; path: string }[];
  /** Why the keys could not be read (escalation refused); missing and stale are then unknown. */
  error: string | null;
}

const iso = (at: string) => at.replace(/\.\d+Z$/, "Z");
const short = (commit: string | null | undefined, dirty?: boolean | null) => (commit ? `${commit.slice(0, 7)}${dirty ? "+dirty" : ""}` : dirty ? "an uncommitted tree" : "an unknown commit");
const who = (record: DeploymentRecord | null) => (record ? `by ${record.deployedBy}` : "by an unknown deployer");
const shortPath = (path: string | null) => (path === null ? "nothing" : path.replace(/^\/nix\/store\/([0-9a-z]{8})[0-9a-z]{24}/, "$1"));

/** The event that last changed what the node runs (or tried to), and what it left running. */
function lastChange(events: readonly NodeEvent[]): { event: NodeEvent; leftRunning: string | null } | null {
  const event = events.at(-1);
  if (event === undefined) return null;
  // A failed attempt that changed nothing (push, keys) or was kept as is: what ran is `previous`
  // for the former; for a kept activation, the new system runs.
  const leftRunning =
    event.kind === "rolled-back" ? event.previous : event.kind === "failed" ? (event.result === "confirmed" || event.result === "activated" ? event.system : event.previous) : event.system;
  return { event, leftRunning };
}

/** Why a node does not run (or boot) what hive.ts wants; null when it does. */
export function explainDrift(
  facts: HostFacts,
  desired: string,
  wanted: { commit: string | null; dirty: boolean | null },
): Explanation | null {
  const running = runningGeneration(facts);
  const genText = (g: Generation | null) => (g ? `generation ${g.number}` : shortPath(facts.current));
  if (facts.current === desired && facts.profile === desired && !facts.profileDangling) return null;
  const hiveKnows = facts.events.length > 0 || facts.records.size > 0;
  if (!hiveKnows) {
    return { cause: "never-deployed", message: `never deployed by hive: it runs ${genText(running)}, which hive did not make`, at: null };
  }
  const change = lastChange(facts.events);
  if (facts.current === desired) {
    const by = change !== null && change.leftRunning === desired ? "" : " (changed outside hive)";
    const what = facts.profileDangling
      ? "its profile names a generation that no longer exists: the next boot has no system"
      : facts.profile === null
        ? "its profile names nothing: the next boot would not run it"
        : `its profile (the next boot) names generation ${facts.profileGeneration ?? "?"}, another system`;
    return { cause: "profile", message: `runs what hive.ts wants, but ${what}${by}`, at: null };
  }
  if (change !== null) {
    const { event, leftRunning } = change;
    const record = event.deployment;
    const attempt = `the deploy of ${short(record?.flakeRevision, record?.flakeDirty)} ${who(record)}`;
    if (leftRunning !== facts.current) {
      return {
        cause: "changed-outside-hive",
        message: `changed outside hive: it runs ${genText(running)} (${shortPath(facts.current)}), not ${shortPath(leftRunning)}, which hive left running at ${iso(event.at)}`,
        at: event.at,
      };
    }
    const because = event.error ? `because ${event.error.message}` : "because it failed";
    switch (event.kind) {
      case "rolled-back":
        return { cause: "rolled-back", message: `rolled back at ${iso(event.at)} ${because} (${attempt}); it runs ${genText(running)} again`, at: event.at };
      case "failed":
        return { cause: "failed", message: `${attempt} failed at ${iso(event.at)}${event.error ? `: ${event.error.message}` : ""}`, at: event.at };
      case "rollback":
        return { cause: "rollback", message: `rolled back ${who(record)} at ${iso(event.at)} (hive rollback) to ${genText(running)}`, at: event.at };
      case "deployed":
        break;
    }
  }
  // It runs hive's last deployment (or, without events, a generation hive recorded): hive.ts moved on.
  const record = (running ? facts.records.get(running.number) : undefined) ?? change?.event.deployment ?? null;
  if (change === null && (running === null || !facts.records.has(running.number))) {
    return { cause: "changed-outside-hive", message: `changed outside hive: it runs ${genText(running)}, which hive has no record of deploying`, at: null };
  }
  const since = `hive.ts changed since ${short(record?.flakeRevision, record?.flakeDirty)}, deployed ${who(record)} at ${iso(change?.event.at ?? record?.deployedAt ?? "?")}`;
  const now =
    wanted.commit !== null && wanted.commit === record?.flakeRevision && !wanted.dirty
      ? "; the commit is the same, so the flake's inputs or the tree then deployed differ"
      : `; it now wants ${short(wanted.commit, wanted.dirty)}`;
  return { cause: "hive-ts-changed", message: `${since}${now}`, at: change?.event.at ?? record?.deployedAt ?? null };
}

/**
 * When the running system was activated: the date of /run/current-system (activation makes that
 * link anew, a rollback too), else its last event, else its deployment record, else its generation
 * link's date (which is when the generation was made, not when it last became active).
 */
export function activationTime(facts: HostFacts): { at: string | null; source: "link" | "event" | "record" | "generation" | null } {
  if (facts.currentSince !== null) return { at: new Date(Math.floor(facts.currentSince) * 1000).toISOString(), source: "link" };
  const current = facts.current;
  const last = lastChange(facts.events);
  if (current !== null && last !== null && last.leftRunning === current) return { at: last.event.at, source: "event" };
  const running = runningGeneration(facts);
  if (running === null) return { at: null, source: null };
  const record = facts.records.get(running.number);
  if (record?.system === current && record.deployedAt && last === null) return { at: record.deployedAt, source: "record" };
  return { at: new Date(running.createdAt * 1000).toISOString(), source: "generation" };
}

/** The deployment record of what the node runs: its generation's, else the event that put it there. */
export function runningRecord(facts: HostFacts): DeploymentRecord | null {
  const running = runningGeneration(facts);
  const record = running ? facts.records.get(running.number) : undefined;
  if (record) return record;
  const event = [...facts.events].reverse().find((e) => (e.kind === "rolled-back" ? e.previous : e.system) === facts.current && e.kind !== "rolled-back");
  return event?.deployment ?? null;
}

/** Each of hive.ts's services as the node reports it, with its check's result now. */
export function judgeServices(node: Node, facts: HostFacts, checks: Map<string, { passed: boolean; message: string | null }>): ServiceStatus[] {
  return Object.entries(node.services).map(([name, service]) => {
    const unit = facts.services?.units?.get(service.unit) ?? null;
    const unitState = facts.services?.units ? (unit === null ? "unknown" : unit.load === "not-found" ? "not-found" : `${unit.active} (${unit.sub})`) : null;
    const listening = service.port === undefined || !facts.services?.listening ? null : facts.services.listening.has(service.port);
    const check = service.check === undefined ? undefined : checks.get(service.check);
    const healthy = check === undefined ? null : check.passed;
    const problems: string[] = [];
    if (unit !== null && unit.load === "not-found") problems.push(`unit ${service.unit} does not exist`);
    else if (unit !== null && unit.active !== "active" && unit.active !== "reloading") problems.push(`unit ${service.unit} is ${unit.active} (${unit.sub})`);
    if (listening === false) problems.push(`nothing listens on port ${service.port}`);
    if (healthy === false) problems.push(`check ${service.check} fails${check?.message ? `: ${check.message}` : ""}`);
    const known = unitState !== null || listening !== null || healthy !== null;
    return {
      name,
      unit: service.unit,
      unitState,
      port: service.port ?? null,
      listening,
      check: service.check ?? null,
      healthy,
      up: problems.length > 0 ? false : known ? true : null,
      problem: problems.length > 0 ? problems.join("; ") : null,
    };
  });
}

export function judgeKeys(facts: HostFacts): KeysStatus | null {
  if (facts.keys === null) return null;
  if (facts.keys.inspection === null) return { missing: [], stale: [], error: facts.keys.error };
  return {
    missing: facts.keys.inspection.missing.map((k) => ({ name: k.name, path: k.path, placedBefore: k.placedBefore })),
    stale: facts.keys.inspection.stale,
    error: null,
  };
}

/** Every sentence worth reading about a node beyond its verdict: services, keys, units, disk, reboot. */
export function describeProblems(status: {
  services: ServiceStatus[];
  keys: KeysStatus | null;
  failedUnits: string[] | null;
  resources: NodeResources | null;
  needsReboot: boolean | null;
  health: { checks: { name: string; passed: boolean; message: string | null }[] } | null;
}): string[] {
  const lines: string[] = [];
  for (const s of status.services) if (s.problem !== null) lines.push(`service ${s.name} is down: ${s.problem}`);
  const serviceChecks = new Set(status.services.map((s) => s.check));
  for (const c of status.health?.checks ?? []) if (!c.passed && !serviceChecks.has(c.name)) lines.push(`health check ${c.name} fails${c.message ? `: ${c.message}` : ""}`);
  for (const k of status.keys?.missing ?? []) {
    lines.push(`key ${k.name} is missing at ${k.path}${k.placedBefore ? " (hive had placed it: a reboot empties /run/keys)" : ""}; hive upload-keys puts it back`);
  }
  for (const k of status.keys?.stale ?? []) lines.push(`key file ${k.path} (${k.name}) is no longer in hive.ts; the next apply or upload-keys removes it`);
  if (status.keys?.error) lines.push(status.keys.error);
  if (status.failedUnits && status.failedUnits.length > 0) lines.push(`failed units: ${status.failedUnits.join(", ")}`);
  for (const d of status.resources?.disks ?? []) {
    const used = d.sizeBytes > 0 ? d.usedBytes / d.sizeBytes : 0;
    if (used >= 0.9) lines.push(`disk ${d.path} is ${Math.round(used * 100)}% full`);
  }
  if (status.needsReboot) lines.push("needs a reboot: the booted kernel, initrd or modules differ from the running system's");
  return lines;
}
