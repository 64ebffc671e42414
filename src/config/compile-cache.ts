// Where jiti keeps compiled hive.ts: a directory only the invoking user can write, checked on every run.
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import { UnsafeDirectoryError, ensurePrivateDir, hiveCacheDir } from "../util/private-dir.js";

/**
 * The compile cache (`$XDG_CACHE_HOME/hive/jiti`, else `~/.cache/hive/jiti`), made or checked
 * (see ensurePrivateDir), or false when JITI_FS_CACHE=false switches it off. jiti runs what it
 * finds there, so whoever can write there runs code as the user of hive (often root), and the
 * compiled hive.ts holds its `text` keys: jiti's own default, `$TMPDIR/jiti`, is a name any
 * local user can create first. Throws ConfigError when the directory is not safe.
 */
export function prepareCompileCache(env: NodeJS.ProcessEnv = process.env): string | false {
  const off = env["JITI_FS_CACHE"] ?? env["JITI_CACHE"];
  if (off === "false" || off === "0") return false;
  const dir = join(hiveCacheDir(env), "jiti");
  try {
    return ensurePrivateDir(dir);
  } catch (error) {
    if (!(error instanceof UnsafeDirectoryError)) throw error;
    throw new ConfigError(
      [`refusing to compile hive.ts into ${dir}: ${error.message}; hive would run what is there as you`],
      "remove it, or set XDG_CACHE_HOME to a directory only you can write; JITI_FS_CACHE=false compiles hive.ts without a cache",
      { cause: error },
    );
  }
}
