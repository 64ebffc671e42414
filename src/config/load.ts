// Finds hive.ts and loads it with jiti (no build step), pointing `nix-hive` imports at this CLI.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";
import { ConfigError } from "../errors.js";
import { prepareCompileCache } from "./compile-cache.js";
import { type SshConfigLookup, loadSshConfig } from "./ssh-config.js";
import type { Hive } from "./normalize.js";
import { validateHive } from "./validate.js";

export const HIVE_FILE_NAMES = ["hive.ts", "hive.js", "hive.mjs"] as const;

export interface LoadHiveOptions {
  /** `-f/--config`; otherwise hive.ts is searched from `cwd` upward. */
  file?: string;
  cwd?: string;
  sshConfig?: SshConfigLookup;
}

export async function loadHive(options: LoadHiveOptions = {}): Promise<Hive> {
  const file = locateHiveFile(options.file, options.cwd ?? process.cwd());
  const exported = await importHiveModule(file);
  return validateHive(exported, file, options.sshConfig ?? loadSshConfig());
}

/** The given file, or the nearest hive.ts / hive.js / hive.mjs from `cwd` upward. */
export function locateHiveFile(file: string | undefined, cwd: string): string {
  if (file !== undefined) {
    const path = resolve(cwd, file);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new ConfigError([`${file}: no such file`], "check the path given to -f/--config");
    }
    return path;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of HIVE_FILE_NAMES) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(
    [`no ${HIVE_FILE_NAMES.join(", ")} found in ${resolve(cwd)} or any parent directory`],
    "create a hive.ts (see docs/getting-started.md) or pass -f/--config PATH",
  );
}

/** The running CLI's own entry point, so `import { defineHive } from "nix-hive"` works anywhere. */
const PACKAGE_ENTRY = fileURLToPath(new URL("../index.js", import.meta.url));

/** Import hive.ts and return its default export; compile and runtime errors name the file and line. */
export async function importHiveModule(file: string): Promise<unknown> {
  const jiti = createJiti(import.meta.url, {
    alias: { "nix-hive": PACKAGE_ENTRY },
    moduleCache: false,
    sourceMaps: true,
    // Its interop reads properties of the default export, so `export default null` would throw inside jiti.
    interopDefault: false,
    fsCache: prepareCompileCache(),
  });
  const label = file.split("/").pop() ?? file;
  // A top-level await that never settles leaves nothing to run: Node would exit 13 without a word.
  let onStall = (): void => {};
  const stalled = new Promise<never>((_, reject) => {
    onStall = () =>
      reject(
        new ConfigError(
          [`${label}: a top-level await in it never settles (the promise it waits for can no longer resolve or reject), so hive.ts never finished loading`],
          "make every top-level await in hive.ts finish, or remove it",
        ),
      );
  });
  process.once("beforeExit", onStall);
  try {
    const mod = await Promise.race([jiti.import<Record<string, unknown>>(file), stalled]);
    if (!("default" in mod)) {
      throw new ConfigError([`${label}: it has no default export`], "end hive.ts with `export default defineHive({ ... })`");
    }
    return mod["default"];
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([describeLoadError(error, file)], "fix the error in hive.ts, then run the command again", { cause: error });
  } finally {
    process.off("beforeExit", onStall);
  }
}

/** `hive.ts:12:3: TypeError: ...`: the first location in the user's file, then the message. */
export function describeLoadError(error: unknown, file: string): string {
  const err = error instanceof Error ? error : new Error(String(error));
  const label = file.split("/").pop() ?? file;
  const text = `${err.stack ?? ""}\n${err.message}`;
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const location = new RegExp(`${escaped}:(\\d+)(?::(\\d+))?`).exec(text);
  const babel = /\((\d+):(\d+)\)/.exec(err.message);
  const where = location
    ? `${label}:${location[1]}${location[2] ? `:${location[2]}` : ""}`
    : babel
      ? `${label}:${babel[1]}:${Number(babel[2]) + 1}`
      : label;
  const message = (err.message.replace(file, label).split("\n")[0] ?? "").trim();
  const kind = err.name === "SyntaxError" || /Unexpected|Missing semicolon|ParseError/.test(err.message) ? "does not compile" : "threw";
  return `${where}: hive.ts ${kind}: ${message}`;
}
