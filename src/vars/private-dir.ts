// A temporary directory only this user can enter, for generators: never in a shared /tmp, wiped after use.
import { lstat, mkdir, mkdtemp, open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { VarsStoreError } from "./errors.js";

type Env = Record<string, string | undefined>;

export interface PrivateDir {
  path: string;
  /** Overwrites every file with zeros, then removes the directory. */
  remove(): Promise<void>;
}

/**
 * A fresh 0700 directory under a parent that only this user can write to: $XDG_RUNTIME_DIR (a
 * per-user tmpfs) when it is ours and private, else ~/.cache/hive, created 0700. A parent that
 * is a symlink, someone else's, or writable by others is refused: whoever can write there could
 * swap the directory under us.
 */
export async function makePrivateDir(env: Env = process.env): Promise<PrivateDir> {
  const uid = process.getuid?.() ?? -1;
  const runtime = env["XDG_RUNTIME_DIR"];
  let parent: string | undefined;
  if (runtime !== undefined && runtime !== "" && (await isPrivateDir(runtime, uid)) === true) parent = join(runtime, "hive");
  else parent = join(env["HOME"] ?? "", ".cache", "hive");
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const problem = await isPrivateDir(parent, uid, true);
  if (problem !== true) {
    throw new VarsStoreError(`cannot make a private directory for generators under ${parent}: ${problem}`, `make ${parent} a directory of yours with mode 0700`);
  }
  const path = await mkdtemp(join(parent, "vars-"));
  return { path, remove: () => wipeDir(path) };
}

/** True, or why not: a real directory, owned by `uid`, that nobody else can write to (nor, if `strict`, read). */
async function isPrivateDir(path: string, uid: number, strict = false): Promise<true | string> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    return `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  if (stats.isSymbolicLink()) return "it is a symbolic link";
  if (!stats.isDirectory()) return "it is not a directory";
  if (uid >= 0 && stats.uid !== uid) return `it belongs to uid ${stats.uid}, not to you (uid ${uid})`;
  if ((stats.mode & (strict ? 0o077 : 0o022)) !== 0) return `its mode ${(stats.mode & 0o777).toString(8)} lets others ${strict ? "in" : "write to it"}`;
  return true;
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
