// A directory only the invoking user can write, for what hive keeps between runs (caches): every
// ancestor must be unwritable by others (or root's sticky /tmp), the directory itself is owned by
// the user, mode 0700 and no symlink. Anything else is refused: another user could plant files there.
import { chmodSync, lstatSync, mkdirSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";

export class UnsafeDirectoryError extends Error {}

/** Where hive keeps its caches: `$XDG_CACHE_HOME/hive`, else `~/.cache/hive` (a relative XDG_CACHE_HOME is ignored, as the spec says). */
export function hiveCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env["XDG_CACHE_HOME"];
  const home = env["HOME"] !== undefined && isAbsolute(env["HOME"]) ? env["HOME"] : homedir();
  return join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(home, ".cache"), "hive");
}

/** Creates `path` (and missing parents) 0700, or checks that it is safe; returns the path. */
export function ensurePrivateDir(path: string): string {
  const target = resolve(path);
  const uid = process.getuid?.() ?? 0;
  checkChain(target, uid, { create: true });
  // A root-owned link on the way was followed: the directories it leads through must pass as well.
  const real = realpathSync(target);
  if (real !== target) checkChain(real, uid, { create: false });
  return target;
}

function checkChain(target: string, uid: number, options: { create: boolean }): void {
  const chain: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const dir of chain) {
    let stat = lstatOrNull(dir);
    if (stat === null) {
      if (!options.create) throw new UnsafeDirectoryError(`${dir} does not exist`);
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (error) {
        // Someone else created it meanwhile: what is there now is checked below.
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      stat = lstatSync(dir);
    }
    if (stat.isSymbolicLink()) {
      // A link on the way is followed only when root owns it (e.g. /home -> /usr/home), never as the directory itself.
      if (stat.uid !== 0 || dir === target) throw new UnsafeDirectoryError(`${dir} is a symlink; refusing to keep hive's files there`);
      continue;
    }
    if (!stat.isDirectory()) throw new UnsafeDirectoryError(`${dir} is not a directory`);
    if (stat.uid !== 0 && stat.uid !== uid) throw new UnsafeDirectoryError(`${dir} belongs to uid ${stat.uid}, not to you (uid ${uid}); another user could plant files there`);
    const writableByOthers = (stat.mode & 0o022) !== 0;
    if (dir === target) {
      if (stat.uid !== uid) throw new UnsafeDirectoryError(`${dir} belongs to uid ${stat.uid}, not to you (uid ${uid})`);
      // Others could have put files in it already; closing it now would not take those out.
      if (writableByOthers) throw new UnsafeDirectoryError(`${dir} is writable by other users (mode ${formatMode(stat.mode)}); another user could have planted files there`);
      if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    } else if (writableByOthers && (stat.mode & 0o1000) === 0) {
      // Writable by others without the sticky bit: they could rename what hive made and put their own in its place.
      throw new UnsafeDirectoryError(`${dir} is writable by other users (mode ${formatMode(stat.mode)}); refusing to keep hive's files under it`);
    }
  }
}

function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
