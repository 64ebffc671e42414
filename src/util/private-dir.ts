// A directory only the invoking user can write, for what hive keeps between runs (caches): every
// ancestor must be unwritable by others (or root's sticky /tmp), the directory itself is owned by
// the user, mode 0700 and no symlink. Anything else is refused: another user could plant files there.
import { lstatSync, mkdirSync, chmodSync } from "node:fs";
import { dirname, resolve } from "node:path";

export class UnsafeDirectoryError extends Error {}

/** Creates `path` (and missing parents) 0700, or checks that it is safe; returns the path. */
export function ensurePrivateDir(path: string): string {
  const target = resolve(path);
  const uid = process.getuid?.() ?? 0;
  const chain: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const dir of chain) {
    let stat = lstatOrNull(dir);
    if (stat === null) {
      mkdirSync(dir, { mode: 0o700 });
      stat = lstatSync(dir);
    }
    if (stat.isSymbolicLink()) {
      // A link on the way is followed only when root owns it (e.g. /home -> /usr/home), never as the directory itself.
      if (stat.uid !== 0 || dir === target) throw new UnsafeDirectoryError(`${dir} is a symlink; refusing to keep hive's files there`);
      continue;
    }
    if (!stat.isDirectory()) throw new UnsafeDirectoryError(`${dir} is not a directory`);
    if (stat.uid !== 0 && stat.uid !== uid) throw new UnsafeDirectoryError(`${dir} belongs to uid ${stat.uid}, not to you (uid ${uid}); another user could plant files there`);
    if (dir === target) {
      if (stat.uid !== uid) throw new UnsafeDirectoryError(`${dir} belongs to uid ${stat.uid}, not to you (uid ${uid})`);
      if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    } else if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) {
      // Writable by others without the sticky bit: they could rename what hive made and put their own in its place.
      throw new UnsafeDirectoryError(`${dir} is writable by other users; refusing to keep hive's files under it`);
    }
  }
  return target;
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
