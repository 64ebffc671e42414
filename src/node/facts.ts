// The one reader of "what the node runs": a script and its parser, at three levels of detail.
//   state    what runs, what the profile names and its generation, what booted (lock, polls, verify)
//   status   + uptime, kernel change, failed units, generations, the records of the running and profile
//            generations, the last events, memory, disk, load, and the services hive.ts declares
//   history  + the record of every generation and every event
import { quoteShellArg as q } from "../ssh/quote.js";
import { type NodeEvent, parseEvent, readEventsScript } from "./events.js";
import { type NodeResources, type ProbeRequest, ProbeParser, type ServiceProbes, probeScript } from "./probes.js";
import { type DeploymentRecord, RECORDS_DIR } from "./record.js";

/** Events `status` reads: enough to explain the last deploys. */
const STATUS_EVENTS = 20;

export type FactsDetail = "state" | "status" | "history";

export interface Generation {
  number: number;
  /** Seconds since the epoch: when the generation's link was made. */
  createdAt: number;
  /** The system it names. */
  system: string;
}

/** What the node runs, read at the `state` level. */
export interface NodeState {
  /** /run/current-system resolved. */
  current: string | null;
  /** What the profile names, resolved, and its generation. */
  profile: string | null;
  profileGeneration: number | null;
  /** /run/booted-system resolved (NixOS sets it at boot). */
  booted: string | null;
}

export interface NodeFacts extends NodeState {
  /** Whether booted and current differ in kernel, initrd or modules; null without /run/booted-system. */
  kernelChanged: boolean | null;
  /** When /run/current-system was last made (seconds since the epoch): the running system's activation. */
  currentSince: number | null;
  uptimeSeconds: number | null;
  /** Null where systemd does not run (no /run/systemd/system). */
  failedUnits: string[] | null;
  /** Every generation of the profile, oldest first (empty at the `state` level). */
  generations: Generation[];
  /** Deployment records hive wrote, by generation number. */
  records: Map<number, DeploymentRecord>;
  /** The profile is a link, but what it names does not exist (a deleted generation): the next boot has no system. */
  profileDangling: boolean;
  /** An activation is under way (or waits for hive's decision, so it may still revert): its record. */
  activation: { deployedBy: string | null; deployedAt: string | null; system: string | null } | null;
  /** hive's event log, oldest first: the last few at `status`, all at `history`. */
  events: NodeEvent[];
  /** Memory, disk, load (`status` only). */
  resources: NodeResources | null;
  /** Units and ports of hive.ts's services (`status` only). */
  services: ServiceProbes | null;
}

/**
 * Prints `key=value` lines that `parseNodeFacts` reads; needs no root (everything read is
 * world-readable on NixOS). The state part costs two processes: one `readlink -f` for whichever
 * of the three links exist (readlink -f names even a path that does not exist, so only what
 * exists is asked about), and one `readlink` for the profile's generation link.
 */
export function factsScript(profile: string, detail: FactsDetail = "state", probes: ProbeRequest = { units: [], ports: [] }): string {
  const state = [
    "set --; keys=; cur=",
    ...[
      ["current", "/run/current-system"],
      ["profile", profile],
      ["booted", "/run/booted-system"],
    ].map(([key, path]) => `[ -e ${q(path!)} ] && { set -- "$@" ${q(path!)}; keys="$keys ${key}"; }`),
    `if [ $# -gt 0 ]; then`,
    `  resolved=$(readlink -f "$@" 2>/dev/null)`,
    // Store paths hold no blanks or wildcards: the resolved paths split into words safely.
    `  set -f; set -- $resolved; set +f`,
    `  for key in $keys; do [ $# -gt 0 ] && { echo "$key=$1"; [ "$key" = current ] && cur=$1; shift; }; done`,
    "fi",
    `link=$(readlink ${q(profile)} 2>/dev/null); echo "link=$link"`,
  ].join("\n");
  if (detail === "state") return state;
  const slash = profile.lastIndexOf("/");
  const dir = slash <= 0 ? "/" : profile.slice(0, slash);
  const base = profile.slice(slash + 1);
  return `${state}
records=${q(RECORDS_DIR)}
[ -L ${q(profile)} ] && [ ! -e ${q(profile)} ] && echo "profile-dangling=1"
# A supervisor holds activation.lock while it activates and while it waits for hive's decision.
if [ -e /run/hive/activation.lock ] && ! ( exec 7</run/hive/activation.lock && flock -n 7 ) 2>/dev/null; then
  printf 'activation=%s\n' "$(tr -d '\n' < /run/hive/activation.json 2>/dev/null)"
fi
all=${detail === "history" ? 1 : 0}
read -r up _ < /proc/uptime 2>/dev/null && echo "uptime=$up"
if [ -e /run/booted-system ]; then
  # What exists of the booted and running kernel, initrd and modules, resolved by one readlink.
  set --; tags=; booted_k=; current_k=; booted_i=; current_i=; booted_m=; current_m=
  for f in kernel:k initrd:i kernel-modules:m; do for s in booted current; do
    [ -e "/run/$s-system/\${f%:*}" ] && { set -- "$@" "/run/$s-system/\${f%:*}"; tags="$tags \${s}_\${f#*:}"; }
  done; done
  if [ $# -gt 0 ]; then
    resolved=$(readlink -f "$@" 2>/dev/null); set -f; set -- $resolved; set +f
    for t in $tags; do [ $# -gt 0 ] && { eval "$t=\\$1"; shift; }; done
  fi
  [ "$booted_k" = "$current_k" ] || echo "kernel-changed=kernel"
  [ "$booted_i" = "$current_i" ] || echo "kernel-changed=initrd"
  [ "$booted_m" = "$current_m" ] || echo "kernel-changed=kernel-modules"
fi
if [ -d /run/systemd/system ]; then
  echo "systemd=1"
  systemctl --failed --plain --no-legend --no-pager 2>/dev/null | while read -r unit _; do echo "failed-unit=$unit"; done
fi
# The same find also dates /run/current-system: activation makes that link anew, so its date is when
# the running system was activated (also after a rollback, unlike the generation's link).
find /run/current-system ${q(dir)} -maxdepth 1 \\( -path /run/current-system -o -name ${q(`${base}-*-link`)} \\) -printf '%T@ %f %l\\n' 2>/dev/null | while read -r time name target; do
  if [ "$name" = current-system ]; then echo "current-since=$time"; continue; fi
  echo "generation=$time $name $target"
  if [ "$all" = 1 ] || [ "$target" = "$cur" ] || [ "$name" = "$link" ]; then
    record="$records/\${name%-link}.json"
    [ -r "$record" ] && printf 'record=%s %s\\n' "$name" "$(tr -d '\\n' < "$record")"
  fi
done
${readEventsScript(detail === "history" ? null : STATUS_EVENTS)}
${detail === "status" ? probeScript(probes) : ""}
exit 0
`;
}

export function parseNodeFacts(stdout: string, profile: string): NodeFacts {
  const base = profile.slice(profile.lastIndexOf("/") + 1);
  const facts: NodeFacts = {
    current: null,
    booted: null,
    profile: null,
    profileGeneration: null,
    kernelChanged: null,
    currentSince: null,
    uptimeSeconds: null,
    failedUnits: null,
    generations: [],
    records: new Map(),
    profileDangling: false,
    activation: null,
    events: [],
    resources: null,
    services: null,
  };
  const probes = new ProbeParser();
  let probed = false;
  const generationOf = (name: string): number | null => {
    if (!name.startsWith(`${base}-`)) return null;
    const match = /^(\d+)-link$/.exec(name.slice(base.length + 1));
    return match ? Number(match[1]) : null;
  };
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (probes.take(key, value)) {
      probed = true;
      continue;
    }
    switch (key) {
      case "current":
        facts.current = value || null;
        break;
      case "profile":
        facts.profile = value || null;
        break;
      case "link":
        facts.profileGeneration = value ? generationOf(value.slice(value.lastIndexOf("/") + 1)) : null;
        break;
      case "booted":
        facts.booted = value || null;
        if (facts.booted !== null) facts.kernelChanged ??= false;
        break;
      case "profile-dangling":
        facts.profileDangling = true;
        break;
      case "activation": {
        let record: Partial<DeploymentRecord> = {};
        try {
          record = JSON.parse(value) as Partial<DeploymentRecord>;
        } catch {
          // Who started it is unknown; that it runs is what matters.
        }
        facts.activation = { deployedBy: record.deployedBy ?? null, deployedAt: record.deployedAt ?? null, system: record.system ?? null };
        break;
      }
      case "kernel-changed":
        facts.kernelChanged = true;
        break;
      case "current-since": {
        const seconds = Number.parseFloat(value);
        facts.currentSince = Number.isFinite(seconds) ? seconds : null;
        break;
      }
      case "uptime": {
        const seconds = Number.parseFloat(value);
        facts.uptimeSeconds = Number.isFinite(seconds) ? Math.floor(seconds) : null;
        break;
      }
      case "systemd":
        facts.failedUnits ??= [];
        break;
      case "failed-unit":
        (facts.failedUnits ??= []).push(value);
        break;
      case "generation": {
        const [time = "", name = "", target = ""] = value.split(" ");
        const number = generationOf(name);
        const createdAt = Number.parseFloat(time);
        if (number !== null && Number.isFinite(createdAt) && target !== "") facts.generations.push({ number, createdAt: Math.floor(createdAt), system: target });
        break;
      }
      case "event": {
        const event = parseEvent(value);
        if (event !== null) facts.events.push(event);
        break;
      }
      case "record": {
        const space = value.indexOf(" ");
        const number = generationOf(value.slice(0, space));
        if (number === null) break;
        try {
          facts.records.set(number, JSON.parse(value.slice(space + 1)) as DeploymentRecord);
        } catch {
          // A record hive cannot read is no record.
        }
        break;
      }
    }
  }
  facts.generations.sort((a, b) => a.number - b.number);
  if (probed) {
    facts.resources = probes.resources();
    facts.services = probes.services(facts.failedUnits !== null);
  }
  return facts;
}

/** Only the `state` level's fields: what activation polls and the lock report. */
export function parseNodeState(stdout: string, profile: string): NodeState {
  const { current, profile: named, profileGeneration, booted } = parseNodeFacts(stdout, profile);
  return { current, profile: named, profileGeneration, booted };
}

/** The generation the node runs: the profile's if it names the running system, else the newest that does. */
export function runningGeneration(facts: NodeFacts): Generation | null {
  if (facts.current === null) return null;
  const matching = facts.generations.filter((g) => g.system === facts.current);
  return matching.find((g) => g.number === facts.profileGeneration) ?? matching.at(-1) ?? null;
}

/** `system-42-link` -> 42. */
export function generationOfLink(link: string | null): number | null {
  const match = link === null ? null : /-(\d+)-link$/.exec(link);
  return match ? Number(match[1]) : null;
}
