// The evaluation cache: what a node's system evaluated to, by everything that decides it, so a
// re-apply of an unchanged flake starts no evaluator. Kept in a directory only the user can write;
// an entry that does not parse, or names derivations the store no longer has, is not trusted.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ensurePrivateDir } from "../util/private-dir.js";

/** Bumped whenever the expression hive evaluates changes what it returns. */
export const EVAL_EXPRESSION_VERSION = 1;

export interface CacheKeyParts {
  /** ResolvedFlake.identity. */
  flake: string;
  node: string;
  attribute: string;
  /** Anything hive adds to the evaluation (the node data of `config.hive`), as text. */
  injected: string;
  showTrace: boolean;
}

export interface CachedSystem {
  drvPath: string;
  outPath: string;
}

const STORE_PATH = /^\/nix\/store\/[0-9a-z]{32}-[A-Za-z0-9+._?=-]+$/;

export class EvalCache {
  private readonly dir: string;
  private readonly nix: string;

  /** `warn` hears about entries that are broken (and so ignored). */
  constructor(
    cacheDir: string,
    private readonly warn: (message: string) => void,
  ) {
    this.dir = join(cacheDir, "eval");
    this.nix = nixIdentity();
  }

  key(parts: CacheKeyParts): string {
    return createHash("sha256").update(JSON.stringify({ v: EVAL_EXPRESSION_VERSION, nix: this.nix, ...parts })).digest("hex");
  }

  /** The cached system, if there is a valid entry whose derivation the store still has. */
  get(key: string): CachedSystem | null {
    const file = join(this.dir, `${key}.json`);
    if (!existsSync(file)) return null;
    // An entry names what gets deployed: read only from a directory no one else could have written.
    try {
      ensurePrivateDir(this.dir);
    } catch (error) {
      this.warn(`not using the evaluation cache: ${(error as Error).message}`);
      return null;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      this.warn(`ignoring a broken evaluation cache entry ${file}: ${(error as Error).message}`);
      return null;
    }
    const { drvPath, outPath } = (entry ?? {}) as Record<string, unknown>;
    if (typeof drvPath !== "string" || typeof outPath !== "string" || !STORE_PATH.test(drvPath) || !drvPath.endsWith(".drv") || !STORE_PATH.test(outPath)) {
      this.warn(`ignoring a broken evaluation cache entry ${file}: it does not name a derivation and an output`);
      return null;
    }
    // Garbage collected since: the build needs the derivation, so evaluate again.
    if (!existsSync(drvPath)) return null;
    return { drvPath, outPath };
  }

  put(key: string, system: CachedSystem): void {
    try {
      ensurePrivateDir(this.dir);
      const file = join(this.dir, `${key}.json`);
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(system)}\n`, { mode: 0o600, flag: "wx" });
      renameSync(temporary, file);
    } catch (error) {
      this.warn(`could not write the evaluation cache (${(error as Error).message}); the next run evaluates again`);
    }
  }
}

/** Which Nix evaluates: the `nix` found first in PATH, by its resolved path and mtime (no process started). */
function nixIdentity(): string {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const candidate = join(dir, "nix");
    try {
      const real = realpathSync(candidate);
      return `${real}@${statSync(real).mtimeMs}`;
    } catch {
      // not here
    }
  }
  return "nix";
}
