// A temporary directory only this user can enter, for generators: never in a shared /tmp, wiped after use.
import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { UnsafeDirectoryError, ensurePrivateDir, hiveCacheDir } from "../util/private-dir.js";
import { VarsStoreError } from "./errors.js";

type Env = Record<string, string | undefined>;

export interface PrivateDir {
  path: string;
  /** Overwrites every file with zeros, then removes the directory. */
  remove(): Promise<void>;
}

/**
 * A fresh 0700 directory under a parent that only this user can write to: $XDG_RUNTIME_DIR/hive (a
 * per-user tmpfs) when that passes the one private-directory check, else hive's cache directory.
 * A parent anyone else could write to, or swap, is refused (src/util/private-dir.ts).
 */
export async function makePrivateDir(env: Env = process.env): Promise<PrivateDir> {
  const runtime = env["XDG_RUNTIME_DIR"];
  const candidates = [...(runtime !== undefined && isAbsolute(runtime) ? [join(runtime, "hive")] : []), hiveCacheDir(env)];
  let parent: string | undefined;
  let problem = "";
  for (const candidate of candidates) {
    try {
      parent = ensurePrivateDir(candidate);
      break;
    } catch (error) {
      if (!(error instanceof UnsafeDirectoryError)) throw error;
      problem = error.message;
    }
  }
  if (parent === undefined) {
    throw new VarsStoreError(`cannot make a private directory for generators: ${problem}`, "make hive's cache directory (~/.cache/hive) a directory of yours with mode 0700");
  }
  const path = await mkdtemp(join(parent, "vars-"));
  return { path, remove: () => wipeDir(path) };
}

/** Zeros each regular file (best effort: what a generator wrote may be a secret), then removes the tree. */
export async function wipeDir(path: string): Promise<void> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    try {
      const handle = await open(file, "r+");
      try {
        const { size } = await handle.stat();
        if (size > 0) await handle.write(Buffer.alloc(size), 0, size, 0);
      } finally {
        await handle.close();
      }
    } catch {
      // Unwritable or gone: removing it is all that is left.
    }
  }
  await rm(path, { recursive: true, force: true });
}
