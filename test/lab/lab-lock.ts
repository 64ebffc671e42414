// Serializes users of one lab across processes, e.g. two e2e runs on one machine.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolveLabRoot } from "./lab-layout.js";
import { identifyProcess, isProcessRunning, sleep, type ProcessId } from "./processes.js";

function readOwner(lockDir: string): ProcessId | null {
  try {
    return JSON.parse(readFileSync(path.join(lockDir, "owner.json"), "utf8")) as ProcessId;
  } catch {
    return null;
  }
}

/**
 * Takes `<lab root>/<name>.lock` for this process, waiting while a live process holds it (a
 * dead holder's lock is taken over). Returns a synchronous release, safe to call in exit handlers.
 */
export async function acquireLabLock(name: string, options: { timeoutMs?: number; onWait?: (owner: ProcessId) => void } = {}): Promise<() => void> {
  const root = resolveLabRoot();
  const lockDir = path.join(root, `${name}.lock`);
  const me = identifyProcess(process.pid)!;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let warned = false;
  mkdirSync(root, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, "owner.json"), JSON.stringify(me));
      return () => {
        const owner = readOwner(lockDir);
        if (owner?.pid === me.pid && owner.start === me.start) rmSync(lockDir, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readOwner(lockDir);
    if (owner && !isProcessRunning(owner)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`lab ${name} is still locked by pid ${owner?.pid ?? "?"} (${lockDir})`);
    if (owner && !warned) {
      warned = true;
      options.onWait?.(owner);
    }
    // No owner yet means the holder is between mkdir and writing owner.json.
    await sleep(owner ? 500 : 50);
  }
}
