// The node lock: one hive deployment per node at a time, held by something alive on the node.
//
// A shell on the node holds flock(2) on /run/hive/lock for as long as hive keeps the channel's
// input open and says it is alive; when hive exits or dies, the channel closes, the shell ends and
// the kernel frees the lock. When the connection dies without closing (a cut network), the shell
// lingers, but its heartbeat goes silent and the next run takes its lock as stale. A detached activation supervisor holds /run/hive/activation.lock the same way, so a
// new run waits for an activation (and its confirmation window) that outlived its hive.
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import type { NodeShell } from "../node/shell.js";
import { NodeOperationError } from "../errors.js";
import { SshError } from "../ssh/errors.js";
import { quoteShellArg as q } from "../ssh/quote.js";

export const LOCK_DIR = "/run/hive";
/** How often hive tells the node-side holder it is alive. */
export const HEARTBEAT_SECONDS = 2;
/** A holder not told for this long lost its hive: its lock is stale and may be taken. */
export const STALE_SECONDS = 15;

export interface LockOwner {
  /** user@host of the deployer. */
  holder: string;
  /** The deployer's hive process. */
  pid: number;
  startedAt: string;
}

export interface HeldLock {
  /** Written into the node's lock.json: a step that changes the node first checks it is still there (lockGuardScript). */
  token: string;
  /** True once the node-side holder ended without being released: another run took the lock over. */
  lost(): boolean;
  /** A previous holder whose lock was found stale (it died without releasing). */
  stale: string | null;
  /** What `thenRun` printed once the lock was held (saves a round trip, e.g. reading the node's state). */
  output: string;
  release(): Promise<void>;
}

/** This run's lock was taken over (it was stopped past the stale window, or broken with --force-unlock). */
export class LockLostError extends NodeOperationError {
  constructor(holder: string) {
    super(
      `this run lost the node lock to another run (${holder}) and stopped before changing the node further`,
      "E_LOCK_LOST",
      [],
      "see what the other run deployed (hive status), then run again if needed",
    );
  }
}

/** The holder named by a HIVE_LOCK_LOST line (what lockGuardScript prints), for LockLostError. */
export function describeLockLostLine(line: string): string {
  return describeOwner(line.slice(LOCK_LOST_MARK.length).trim());
}

export class NodeLockedError extends NodeOperationError {
  constructor(message: string) {
    super(message, "E_LOCKED");
  }
}

/** What exit code and first line a step refused by lockGuardScript ends with. */
export const LOCK_LOST_EXIT = 77;
export const LOCK_LOST_MARK = "HIVE_LOCK_LOST";

/**
 * Put before a script that changes the node: it runs only while this run's token is in the
 * node's lock.json, so a run that lost its lock (stopped past the stale window, or broken with
 * --force-unlock) can not overwrite what the run that took the lock over deployed.
 */
export function lockGuardScript(token: string): string {
  return `{ read -r hive_lock < ${LOCK_DIR}/lock.json; } 2>/dev/null; case "$hive_lock" in *'"token":"${token}"'*) ;; *) echo "${LOCK_LOST_MARK} $hive_lock"; exit ${LOCK_LOST_EXIT} ;; esac`;
}

export function lockScript(owner: LockOwner, force: boolean, thenRun = "", token = ""): string {
  // The owner's JSON without its closing brace: the shell adds the holder's pid (no sed).
  const info = JSON.stringify({ ...owner, token }).slice(0, -1);
  return `[ -d ${LOCK_DIR} ] || mkdir -p ${LOCK_DIR}
cd ${LOCK_DIR} || exit 1
exec 9>>lock
if ! flock -n 9; then
  # The holder touches heartbeat whenever its hive says it is alive (every ${HEARTBEAT_SECONDS} s); a silent
  # one lost its hive (killed, or cut off without the connection closing): its lock is stale.
  age=$(( $(date +%s) - $(stat -c %Y heartbeat 2>/dev/null || echo 0) ))
  if ${force ? "true" : "false"} || [ "$age" -gt ${STALE_SECONDS} ]; then
    pid=$(sed -n 's/.*"nodePid":\\([0-9][0-9]*\\).*/\\1/p' lock.json 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    if ! flock -w 10 9; then echo "HIVE_BUSY $(cat lock.json 2>/dev/null)"; exit 75; fi
    [ -s lock.json ] && mv -f lock.json stale.json
  else
    echo "HIVE_BUSY $(cat lock.json 2>/dev/null)"; exit 75
  fi
fi
exec 8>>activation.lock
if ! flock -w 3 8; then echo "HIVE_ACTIVATING $(tr -d '\n' < activation.json 2>/dev/null)"; exit 76; fi
exec 8>&-
# A holder that died leaves its lock.json (killed shell) or stale.json (its hive vanished).
for f in lock.json stale.json; do [ -s "$f" ] && echo "HIVE_STALE $(tr -d '\n' < "$f")"; done
[ -e stale.json ] && rm -f stale.json
printf '%s,"nodePid":%s}\\n' ${q(info)} "$$" > lock.json
${thenRun}
echo HIVE_LOCKED
released=
# Opening with truncation stamps the file's time: a heartbeat without starting a process.
: > heartbeat
while read -r line; do [ "$line" = release ] && released=1 && break; : > heartbeat; done
if [ -n "$released" ]; then rm -f lock.json; else mv -f lock.json stale.json; fi
`;
}

/** Take the node's lock, or fail naming who holds it. */
export async function acquireNodeLock(host: NodeShell, owner: LockOwner, options: { force?: boolean; thenRun?: string } = {}): Promise<HeldLock> {
  const input = new PassThrough();
  const token = randomBytes(12).toString("hex");
  let released = false;
  let holderEnded = false;
  let stale: string | null = null;
  const output: string[] = [];
  let settle: ((outcome: { locked: true } | { locked: false; line: string }) => void) | undefined;
  const decided = new Promise<{ locked: true } | { locked: false; line: string }>((resolve) => (settle = resolve));
  const channel = host.runAsRoot(lockScript(owner, options.force === true, options.thenRun, token), {
    stdin: input,
    onLine: (line) => {
      if (line === "HIVE_LOCKED") settle?.({ locked: true });
      else if (line.startsWith("HIVE_STALE ")) stale ??= describeOwner(line.slice(line.indexOf(" ") + 1));
      else if (line.startsWith("HIVE_BUSY") || line.startsWith("HIVE_ACTIVATING")) settle?.({ locked: false, line });
      else output.push(line);
    },
  });
  void channel.then(
    () => (holderEnded = true),
    () => (holderEnded = true),
  );
  const ended = channel.then(
    (result) => ({ locked: false as const, line: `the lock holder ended: ${result.stderr.trim() || `exit ${result.exitCode}`}` }),
    (error: Error) => {
      // Taking the lock is the first use of the connection: its SSH errors are the node's real problem.
      if (error instanceof SshError) throw error;
      return { locked: false as const, line: `the lock holder failed: ${error.message}` };
    },
  );
  const outcome = await Promise.race([decided, ended]).catch((error: unknown) => {
    input.end();
    throw error;
  });
  if (!outcome.locked) {
    input.end();
    const { line } = outcome;
    if (line.startsWith("HIVE_BUSY")) {
      throw new NodeLockedError(
        `the node is locked by another hive run: ${describeOwner(line.slice("HIVE_BUSY".length).trim())}; wait for it, or break the lock with --force-unlock if that run is gone`,
      );
    }
    if (line.startsWith("HIVE_ACTIVATING")) {
      throw new NodeLockedError(
        `an activation is still running on the node (${describeOwner(line.slice("HIVE_ACTIVATING".length).trim())}), possibly waiting for its confirmation; try again once it has finished`,
      );
    }
    throw new NodeLockedError(`could not take the node lock: ${line}`);
  }
  const heartbeat = setInterval(() => input.write("alive\n"), HEARTBEAT_SECONDS * 1000);
  heartbeat.unref();
  return {
    token,
    lost: () => holderEnded && !released,
    stale,
    output: output.join("\n"),
    release: async () => {
      released = true;
      clearInterval(heartbeat);
      // An explicit release: input ending without it means this hive died (the lock was stale).
      input.end("release\n");
      // On a connection that died, the channel never ends: the node side frees the lock by itself.
      await Promise.race([channel.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    },
  };
}

function describeOwner(json: string): string {
  try {
    // A lock owner, or the deployment record of a running activation.
    const owner = JSON.parse(json) as Partial<LockOwner> & { deployedBy?: string; deployedAt?: string };
    const holder = owner.holder ?? owner.deployedBy ?? "unknown";
    const pid = owner.pid === undefined ? "" : `, pid ${owner.pid}`;
    return `${holder}${pid}, since ${owner.startedAt ?? owner.deployedAt ?? "?"}`;
  } catch {
    return json === "" ? "holder unknown" : json;
  }
}
