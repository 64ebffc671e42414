// The node lock: one hive deployment per node at a time, held by something alive on the node.
//
// A shell on the node holds flock(2) on /run/hive/lock for as long as hive keeps the channel's
// input open; when hive exits or dies, the channel closes, the shell ends and the kernel frees
// the lock. A detached activation supervisor holds /run/hive/activation.lock the same way, so a
// new run waits for an activation (and its confirmation window) that outlived its hive.
import { PassThrough } from "node:stream";
import type { Host } from "../host/host.js";
import { NodeOperationError } from "../host/host.js";
import { quoteShellArg as q } from "../ssh/quote.js";

export const LOCK_DIR = "/run/hive";

export interface LockOwner {
  /** user@host of the deployer. */
  holder: string;
  /** The deployer's hive process. */
  pid: number;
  startedAt: string;
}

export interface HeldLock {
  /** A previous holder whose lock was found stale (it died without releasing). */
  stale: string | null;
  release(): Promise<void>;
}

export class NodeLockedError extends NodeOperationError {
  constructor(message: string) {
    super(message, "E_LOCKED");
  }
}

export function lockScript(owner: LockOwner, force: boolean): string {
  const info = JSON.stringify(owner);
  return `mkdir -p ${LOCK_DIR}
cd ${LOCK_DIR} || exit 1
exec 9>>lock
if ! flock -n 9; then
  if ${force ? "true" : "false"}; then
    pid=$(sed -n 's/.*"nodePid":\\([0-9][0-9]*\\).*/\\1/p' lock.json 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    if ! flock -w 10 9; then echo "HIVE_BUSY $(cat lock.json 2>/dev/null)"; exit 75; fi
    echo "HIVE_BROKEN $(cat lock.json 2>/dev/null)"
  else
    echo "HIVE_BUSY $(cat lock.json 2>/dev/null)"; exit 75
  fi
fi
exec 8>>activation.lock
if ! flock -w 3 8; then echo "HIVE_ACTIVATING $(tr -d '\n' < activation.json 2>/dev/null)"; exit 76; fi
exec 8>&-
[ -s lock.json ] && echo "HIVE_STALE $(cat lock.json)"
printf '%s\\n' ${q(info)} | sed "s/}$/,\\"nodePid\\":$$}/" > lock.json
echo HIVE_LOCKED
while read -r _; do :; done
rm -f lock.json
`;
}

/** Take the node's lock, or fail naming who holds it. */
export async function acquireNodeLock(host: Host, owner: LockOwner, options: { force?: boolean } = {}): Promise<HeldLock> {
  const input = new PassThrough();
  let stale: string | null = null;
  let settle: ((outcome: { locked: true } | { locked: false; line: string }) => void) | undefined;
  const decided = new Promise<{ locked: true } | { locked: false; line: string }>((resolve) => (settle = resolve));
  const channel = host.runAsRoot(lockScript(owner, options.force === true), {
    stdin: input,
    onLine: (line) => {
      if (line === "HIVE_LOCKED") settle?.({ locked: true });
      else if (line.startsWith("HIVE_STALE ") || line.startsWith("HIVE_BROKEN ")) stale = describeOwner(line.slice(line.indexOf(" ") + 1));
      else if (line.startsWith("HIVE_BUSY") || line.startsWith("HIVE_ACTIVATING")) settle?.({ locked: false, line });
    },
  });
  const ended = channel.then(
    (result) => ({ locked: false as const, line: `the lock holder ended: ${result.stderr.trim() || `exit ${result.exitCode}`}` }),
    (error: Error) => ({ locked: false as const, line: `the lock holder failed: ${error.message}` }),
  );
  const outcome = await Promise.race([decided, ended]);
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
  return {
    stale,
    release: async () => {
      input.end();
      await channel.catch(() => undefined);
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
