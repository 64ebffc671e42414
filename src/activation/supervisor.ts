// The node-side activation supervisor: activates a system detached from the SSH session, and
// returns the node to what it ran before when activation fails or hive does not confirm in time.
//
// Protocol, all in one directory under /run/hive/activations/ID on the node:
//   activation-exit  switch-to-configuration's exit code, written when activation ends
//   pid              the supervisor's pid: a poll that finds it gone without a result knows the
//                    supervisor died (OOM killer, a /run too full for its files)
//   decided/         created by exactly one party with mkdir (atomic): hive to confirm or to reject
//                    (after failed checks; it writes `verdict` first), the supervisor at the
//                    deadline to revert. So an early decision is never lost (the directory
//                    persists) and no revert starts once confirmed.
//   result           the supervisor's final word (see SupervisorResult)
//   prev-generation, prev-system   what the node ran before, for hive's own rollback later
//   reason.json      hive's words ({ code, message }) on why it rejects, or confirms despite a failure
//   log              everything the supervisor and switch-to-configuration printed
// At its final result the supervisor appends an event to the node's event log (src/node/events.ts).
import { quoteShellArg as q } from "../ssh/quote.js";
import type { Goal } from "../plan/goal.js";
import { type NodeState, factsScript, parseNodeState } from "../node/facts.js";
import { eventWriterFunction } from "../node/events.js";
import { RECORDS_DIR } from "../node/record.js";

export const ACTIVATIONS_DIR = "/run/hive/activations";

/** What the supervisor finally did. */
export type SupervisorResult =
  | "activated" // success, no confirmation asked
  | "confirmed" // success, hive confirmed in time
  | "reverted-unconfirmed" // success, but no confirmation in time: back on the previous system
  | "reverted-failed" // activation failed: back on the previous system
  | "reverted-rejected" // success, but hive rejected it (a failed health check or verification): back on the previous system
  | "failed" // activation failed, no rollback (disabled, or nothing to return to)
  | "revert-failed" // returning to the previous system failed too
  | "profile-failed"; // the profile could not be set; nothing changed

export interface SupervisorOptions {
  id: string;
  profile: string;
  /** The system to activate. */
  system: string;
  goal: Goal;
  /** How the profile comes to name `system`: a new generation, an existing one, or not at all. */
  profile_action: { kind: "set" } | { kind: "switch-generation"; generation: number } | { kind: "none" };
  /** Seconds to wait for hive's decision after activation ends (its checks run in this window); 0: do not wait. */
  confirmTimeout: number;
  /** Return to the previous system when activation fails. */
  rollbackOnFailure: boolean;
  /** Write the deployment record (stdin of the launcher) for a new generation. */
  writeRecord: boolean;
  /** Why this activation happens when hive returns a node to its previous system itself: logged with its event. */
  reason?: { code: string; message: string };
}

export function activationDir(id: string): string {
  return `${ACTIVATIONS_DIR}/${id}`;
}

/** The supervisor script itself (run detached by `launchScript`). */
export function supervisorScript(o: SupervisorOptions): string {
  const setsProfile = o.profile_action.kind !== "none";
  const revertGoal = o.goal === "boot" ? "boot" : o.goal === "test" ? "test" : "switch";
  return `#!/bin/sh
set -u
trap "" HUP PIPE INT
dir=${q(activationDir(o.id))}
profile=${q(o.profile)}
system=${q(o.system)}
goal=${q(o.goal)}
confirm_timeout=${Math.max(0, Math.ceil(o.confirmTimeout))}
say() { echo "hive: $*"; }
echo $$ > "$dir/pid"
# One small write: a reader sees the file empty (not yet written) or whole, never in part.
put() { echo "$2" > "$dir/$1"; }
# Held until this script ends: a new hive run waits while this activation (or its window) lasts.
exec 8>>/run/hive/activation.lock
flock 8
cp "$dir/record.json" /run/hive/activation.json 2>/dev/null
prev_gen=; prev_system=; new_gen=; why=
${eventWriterFunction()}
# The event of this activation, at its final result: who and which commit (the record), what ran
# before and after, and why it failed or turned back (the supervisor's own words, else hive's).
log_event() {
  reason=$why
  [ -z "$reason" ] && [ -s "$dir/reason.json" ] && reason=$(tr -d '\\n' < "$dir/reason.json")
  record=; [ -s "$dir/record.json" ] && record=$(tr -d '\\n' < "$dir/record.json")
  case $prev_system in *[!A-Za-z0-9/._+=-]*) prev_system= ;; esac
  hive_event "{\\"v\\":1,\\"at\\":\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\",\\"result\\":\\"$1\\",\\"system\\":\\"$system\\",\\"previous\\":\\"$prev_system\\",\\"generation\\":\${new_gen:-null},\\"previousGeneration\\":\${prev_gen:-null},\\"error\\":\${reason:-null},\\"deployment\\":\${record:-null}}" ||
    say "could not write the event log"
}
finish() { log_event "$1"; put result "$1"; say "result: $1"; exit 0; }
# readlink -f names even a path that does not exist: only what exists counts.
resolve() { [ -e "$1" ] && readlink -f "$1" 2>/dev/null; }
# system-42-link -> gen=42, else empty; in the shell itself, no process.
gen_of() { gen=\${1%-link}; gen=\${gen##*-}; case $gen in "" | *[!0-9]*) gen= ;; esac; }

gen_of "$(readlink "$profile" 2>/dev/null)"
prev_gen=$gen
prev_system=$(resolve /run/current-system)
put prev-generation "$prev_gen"
put prev-system "$prev_system"

${
  o.profile_action.kind === "set"
    ? `nix-env -p "$profile" --set "$system" || finish profile-failed`
    : o.profile_action.kind === "switch-generation"
      ? `nix-env -p "$profile" --switch-generation ${o.profile_action.generation} || finish profile-failed`
      : ""
}
${
  setsProfile
    ? `gen_of "$(readlink "$profile")"
new_gen=$gen
put new-generation "$new_gen"
say "profile $profile is generation $new_gen"
${o.writeRecord ? `if [ -s "$dir/record.json" ]; then [ -d ${q(RECORDS_DIR)} ] || mkdir -p ${q(RECORDS_DIR)}; cp "$dir/record.json" ${q(RECORDS_DIR)}/"\${profile##*/}-$new_gen.json"; fi` : ""}`
    : ""
}

# Return to exactly what ran before: the previous generation (profile goals) and system.
revert() {
${
  setsProfile
    ? `  if [ -n "$prev_gen" ]; then
    nix-env -p "$profile" --switch-generation "$prev_gen" || return 1
  else
    say "no previous generation of $profile to return to"
    return 2
  fi`
    : `  :`
}
  if [ -n "$prev_system" ] && [ -x "$prev_system/bin/switch-to-configuration" ]; then
    ${o.goal === "boot" ? `"$(readlink -f "$profile")/bin/switch-to-configuration" boot` : `"$prev_system/bin/switch-to-configuration" ${revertGoal}`} 8>&- || return 1
  else
    say "no previous system to return to"
    return 2
  fi
}

# 8>&-: services started by activation must not inherit (and so hold) the activation lock.
"$system/bin/switch-to-configuration" "$goal" 8>&-
rc=$?
put activation-exit "$rc"
say "switch-to-configuration $goal exited $rc"

if [ "$rc" -ne 0 ]; then
  code=E_ACTIVATION; [ "$rc" -eq 4 ] && code=E_UNITS_FAILED
  why="{\\"code\\":\\"$code\\",\\"message\\":\\"switch-to-configuration $goal exited $rc\\"}"
  if ${o.rollbackOnFailure ? "true" : "false"}; then
    revert; r=$?
    if [ "$r" -eq 0 ]; then finish reverted-failed; fi
    if [ "$r" -eq 2 ]; then finish failed; fi
    finish revert-failed
  fi
${
  setsProfile
    ? `  # No rollback: keep the profile naming what the node runs.
  running=$(resolve /run/current-system)
  if [ "$goal" = boot ] || [ "$running" != "$system" ]; then
    if [ -n "$prev_gen" ]; then nix-env -p "$profile" --switch-generation "$prev_gen"; else rm -f "$profile"; fi
  fi`
    : ""
}
  finish failed
fi

if [ "$confirm_timeout" -eq 0 ]; then finish activated; fi

say "waiting up to $confirm_timeout s for hive to confirm"
# Counted in 0.2 s steps rather than read off a clock with whole seconds: the window is never shorter
# than promised (the loop's own time only makes it a little longer).
steps=0
while [ "$steps" -lt $(( confirm_timeout * 5 )) ] && [ ! -d "$dir/decided" ]; do sleep 0.2; steps=$((steps + 1)); done
if mkdir "$dir/decided" 2>/dev/null; then
  say "no confirmation within $confirm_timeout s: returning to the previous system"
  why="{\\"code\\":\\"E_UNCONFIRMED\\",\\"message\\":\\"no confirmation from hive within $confirm_timeout s\\"}"
  revert; r=$?
  if [ "$r" -eq 0 ]; then finish reverted-unconfirmed; fi
  finish revert-failed
fi
verdict=; [ -s "$dir/verdict" ] && read -r verdict < "$dir/verdict"
if [ "$verdict" = reject ]; then
  say "hive rejected the new system: returning to the previous system"
  revert; r=$?
  if [ "$r" -eq 0 ]; then finish reverted-rejected; fi
  if [ "$r" -eq 2 ]; then finish failed; fi
  finish revert-failed
fi
finish confirmed
`;
}

/**
 * Writes the supervisor and the record into the activation directory and starts it detached: a
 * transient systemd unit where PID 1 is systemd, else a new session (setsid). Both files are
 * written by the shell's own printf, so the launch needs no input and starts no process for them.
 */
export function launchScript(o: SupervisorOptions, recordJson: string): string {
  const dir = activationDir(o.id);
  return `set -e
dir=${q(dir)}
[ -d ${q(ACTIVATIONS_DIR)} ] || mkdir -p ${q(ACTIVATIONS_DIR)}
mkdir -m 0700 "$dir"
printf '%s' ${q(recordJson)} > "$dir/record.json"
${o.reason === undefined ? "" : `printf '%s' ${q(JSON.stringify(o.reason))} > "$dir/reason.json"
`}printf '%s' ${q(supervisorScript(o))} > "$dir/run.sh"
: > "$dir/log"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --unit=${q(`hive-activation-${o.id}`)} --collect --quiet /bin/sh -c 'exec /bin/sh "$0/run.sh" >> "$0/log" 2>&1 < /dev/null' "$dir"
else
  setsid /bin/sh "$dir/run.sh" >> "$dir/log" 2>&1 < /dev/null &
fi
echo started
`;
}

/**
 * One poll: waits on the node (up to `waitSeconds`, in 0.1 s steps) until activation ends or the
 * supervisor decides, so hive learns of it at once without opening a channel every moment; then
 * prints the files hive needs and the log from a byte offset.
 */
export function pollScript(id: string, logOffset: number, waitSeconds = 2, settled: "activation" | "result" = "activation", profile = "/nix/var/nix/profiles/system"): string {
  const dir = q(activationDir(id));
  // -s, not -e: the supervisor writes each file in place, and an empty one is not written yet.
  const done = settled === "activation" ? "[ -s activation-exit ] || [ -s result ]" : "[ -s result ]";
  return `cd ${dir} || exit 3
steps=0
until ${done} || [ "$steps" -ge ${Math.max(0, Math.round(waitSeconds * 10))} ]; do sleep 0.1; steps=$((steps + 1)); done
# Whether the supervisor lives, asked before its files are read: a result written just before it
# exited is then seen, and "gone without a result" means it died.
spid=; [ -s pid ] && read -r spid < pid
if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then echo supervisor=alive; else echo supervisor=gone; fi
# The shell's read, not cat: no process per file.
for f in activation-exit result prev-generation prev-system new-generation; do v=; [ -s "$f" ] && { read -r v < "$f" || :; }; echo "$f=$v"; done
${factsScript(profile, "state")}
echo "--"
tail -c +${logOffset + 1} log`;
}

export interface SupervisorPoll {
  activationExit: number | null;
  result: SupervisorResult | null;
  prevGeneration: number | null;
  prevSystem: string | null;
  newGeneration: number | null;
  /** False when the supervisor's process is gone (with or without a result). */
  supervisorAlive: boolean;
  newLog: string;
  /** What the node runs and its profile names, read after the wait. */
  state: NodeState;
}

export function parsePoll(stdout: string, profile: string): SupervisorPoll {
  const split = stdout.indexOf("\n--\n");
  const head = split === -1 ? stdout : stdout.slice(0, split);
  const newLog = split === -1 ? "" : stdout.slice(split + 4);
  const values = new Map(
    head.split("\n").flatMap((line) => {
      const eq = line.indexOf("=");
      return eq > 0 ? [[line.slice(0, eq), line.slice(eq + 1).trim()] as const] : [];
    }),
  );
  const num = (key: string) => {
    const v = values.get(key);
    return v === undefined || v === "" || !/^\d+$/.test(v) ? null : Number(v);
  };
  const text = (key: string) => {
    const v = values.get(key);
    return v === undefined || v === "" ? null : v;
  };
  return {
    activationExit: num("activation-exit"),
    result: text("result") as SupervisorResult | null,
    prevGeneration: num("prev-generation"),
    prevSystem: text("prev-system"),
    newGeneration: num("new-generation"),
    supervisorAlive: values.get("supervisor") !== "gone",
    newLog,
    state: parseNodeState(head, profile),
  };
}

/**
 * Claims the decision for hive: exit 0 means confirmed; otherwise the supervisor already decided.
 * `note`: why hive keeps a system although something failed (rollback off), for the event log.
 */
export function confirmScript(id: string, note?: { code: string; message: string }): string {
  const dir = q(activationDir(id));
  const writeNote = note === undefined ? "" : `printf '%s' ${q(JSON.stringify(note))} > ${dir}/reason.json; `;
  return `${writeNote}if mkdir ${dir}/decided 2>/dev/null; then echo confirmed; else echo "too late: $(cat ${dir}/result 2>/dev/null || echo reverting)"; exit 3; fi`;
}

/** Claims the decision to revert (the verdict and hive's reason are written before the claim, so the supervisor always sees them). */
export function rejectScript(id: string, reason?: { code: string; message: string }): string {
  const dir = q(activationDir(id));
  const writeReason = reason === undefined ? "" : `printf '%s' ${q(JSON.stringify(reason))} > ${dir}/reason.json && `;
  return `${writeReason}echo reject > ${dir}/verdict && if mkdir ${dir}/decided 2>/dev/null; then echo rejected; else echo "too late: $(cat ${dir}/result 2>/dev/null || echo reverting)"; exit 3; fi`;
}
