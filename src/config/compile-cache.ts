// Where jiti keeps compiled hive.ts: a directory only the invoking user can write, checked on every run.
import { chmodSync, lstatSync, mkdirSync, readlinkSync, type Stats } from "node:fs";
import { userInfo } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { ConfigError } from "../errors.js";

/**
 * jiti runs what it finds in its cache, so whoever can write there runs code as the user of
 * hive (often root); and the compiled hive.ts holds its `text` keys. jiti's default,
 * `$TMPDIR/jiti`, is a name any local user can create first.
 */
export interface CompileCacheEnv {
  env?: NodeJS.ProcessEnv;
  /** The user the cache must belong to; default the effective uid. */
  uid?: number;
}

const HINT =
  "remove it or give it to yourself with no write access for others, or set XDG_CACHE_HOME to a directory only you can write; JITI_FS_CACHE=false compiles hive.ts without a cache";

/** The compile cache directory (`$XDG_CACHE_HOME/hive/jiti`, else `~/.cache/hive/jiti`), or false when switched off. */
export function compileCacheDir(options: CompileCacheEnv = {}): string | false {
  const env = options.env ?? process.env;
  const off = env["JITI_FS_CACHE"] ?? env["JITI_CACHE"];
  if (off === "false" || off === "0") return false;
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "hive", "jiti");
  const home = env["HOME"] !== undefined && isAbsolute(env["HOME"]) ? env["HOME"] : userInfo().homedir;
  return join(home, ".cache", "hive", "jiti");
}

/**
 * Makes sure the cache directory is safe and returns it (or false when the cache is off).
 * Every directory on the way must be a directory owned by root or the user and writable by
 * no one else (or sticky, as /tmp); a symlink on the way counts only if it is owned by root or
 * the user, and its target is checked the same way. Missing directories are created 0700; `hive` and `jiti`
 * themselves must belong to the user (and are made 0700). Throws ConfigError otherwise.
 */
export function prepareCompileCache(options: CompileCacheEnv = {}): string | false {
  const dir = compileCacheDir(options);
  if (dir === false) return false;
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const hiveDir = dirname(dir);
  const parent = checkTrustedPath(dirname(hiveDir), uid);
  ensureOwnDirectory(join(parent, "hive"), uid);
  ensureOwnDirectory(join(parent, "hive", "jiti"), uid);
  return join(parent, "hive", "jiti");
}

function refuse(path: string, problem: string): never {
  throw new ConfigError(
    [`refusing the compile cache ${path}: ${problem}; another user could plant code there that hive would run as you`],
    HINT,
  );
}

/** Checks (creating what is missing) each directory of `path` from `/` down, follows only trusted symlinks, and returns the real path. */
function checkTrustedPath(path: string, uid: number, depth = 0): string {
  if (depth > 20) refuse(path, "too many levels of symbolic links");
  let real = "/";
  checkTrustedDirectory(real, lstatSync(real), uid);
  // Not normalized: `..` after a symlink means the parent of its target, so it is taken on the real path.
  for (const part of path.split("/").filter((p) => p !== "" && p !== ".")) {
    if (part === "..") {
      real = dirname(real);
      continue;
    }
    const next = join(real, part);
    let stats = lstatOrNull(next);
    if (stats === null) {
      mkdirQuietly(next);
      stats = lstatOrNull(next);
    }
    if (stats === null) refuse(next, "it cannot be created");
    if (stats.isSymbolicLink()) {
      if (stats.uid !== 0 && stats.uid !== uid) refuse(next, `it is a symbolic link owned by uid ${stats.uid}`);
      const target = readlinkSync(next);
      real = checkTrustedPath(isAbsolute(target) ? target : `${real}/${target}`, uid, depth + 1);
      continue;
    }
    checkTrustedDirectory(next, stats, uid);
    real = next;
  }
  return real;
}

function checkTrustedDirectory(path: string, stats: Stats, uid: number): void {
  if (!stats.isDirectory()) refuse(path, "it is not a directory");
  if (stats.uid !== 0 && stats.uid !== uid) refuse(path, `it is owned by uid ${stats.uid}, neither root nor you (uid ${uid})`);
  // Like /tmp: others may add entries but not rename or remove ours, and the next step's owner is checked.
  const sticky = (stats.mode & 0o1000) !== 0;
  if ((stats.mode & 0o022) !== 0 && !sticky) refuse(path, `others can write to it (mode ${formatMode(stats)})`);
}

function formatMode(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, "0");
}

/** A directory of hive's own: created 0700, else it must be a real directory of the user's that no one else can write. */
function ensureOwnDirectory(path: string, uid: number): void {
  let stats = lstatOrNull(path);
  if (stats === null) {
    mkdirQuietly(path);
    stats = lstatOrNull(path);
    if (stats === null) refuse(path, "it cannot be created");
  }
  if (stats.isSymbolicLink()) refuse(path, "it is a symbolic link");
  if (!stats.isDirectory()) refuse(path, "it is not a directory");
  if (stats.uid !== uid) refuse(path, `it is owned by uid ${stats.uid}, not by you (uid ${uid})`);
  if ((stats.mode & 0o022) !== 0) refuse(path, `others could write to it (mode ${formatMode(stats)})`);
  // Compiled hive.ts holds `text` keys: not readable by anyone else either.
  if ((stats.mode & 0o077) !== 0) chmodSync(path, 0o700);
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** mkdir 0700; losing a race to another creator is fine, the caller checks what is there. */
function mkdirQuietly(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EEXIST") refuse(path, `it cannot be created (${code ?? (error as Error).message})`);
  }
}
