// Resolves meta.flake the way `nix build .#` does: a directory in a git work tree is
// `git+file://<top>?dir=<sub>` (tracked files only, a dirty tree allowed and recorded), a directory
// outside git is `path:`, and a flake reference is passed through. Also says what identifies
// exactly that source, for the evaluation cache, and which commit it is, for deployment records.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { FlakeError } from "../errors.js";
import type { ProcessRunner } from "./runner.js";

export interface ResolvedFlake {
  /** What Nix is given: `git+file:///repo?dir=sub`, `path:/dir`, or the reference as written. */
  ref: string;
  kind: "git" | "path" | "reference";
  /** A local source's root on disk: where Nix's `/nix/store/...-source` paths in messages point. */
  sourceRoot: string | null;
  /** The commit of a git flake (null outside git, or in a repository without commits). */
  commit: string | null;
  /** Whether tracked files differ from the commit; null when unknown. */
  dirty: boolean | null;
  /**
   * Exactly what is evaluated, as a hash: the commit of a clean tree, plus the content of the
   * tracked changes of a dirty one; a path flake's content; a locked reference itself. Null when
   * the source can not be pinned (an unlocked remote reference): nothing is cached for it.
   */
  identity: string | null;
}

/** Resolve meta.flake (an absolute path or a flake reference). */
export async function resolveFlake(flake: string, runner: ProcessRunner): Promise<ResolvedFlake> {
  if (!flake.startsWith("/")) {
    const locked = /[?&](rev|narHash)=/.test(flake);
    return { ref: flake, kind: "reference", sourceRoot: null, commit: /[?&]rev=([0-9a-f]{40})/.exec(flake)?.[1] ?? null, dirty: null, identity: locked ? sha256(flake) : null };
  }
  if (!existsSync(join(flake, "flake.nix"))) {
    throw new FlakeError(`no flake.nix in ${flake}`, "set meta.flake in hive.ts to the directory that holds your flake.nix (or create one: docs/getting-started.md)");
  }
  const top = await git(runner, flake, ["rev-parse", "--show-toplevel"]);
  if (top === null) return { ref: `path:${flake}`, kind: "path", sourceRoot: flake, commit: null, dirty: null, identity: hashDirectory(flake) };

  const sub = relative(top, flake);
  const tracked = await runner.run("git", ["-C", flake, "ls-files", "--error-unmatch", "flake.nix"]);
  if (tracked.exitCode !== 0) {
    throw new FlakeError(`${join(flake, "flake.nix")} is not tracked by git, and Nix sees only tracked files of a flake in a git repository`, `git -C ${flake} add flake.nix`);
  }
  const commit = await git(runner, top, ["rev-parse", "--verify", "-q", "HEAD"]);
  // What Nix copies: tracked files as they are in the work tree, so staged and unstaged changes count.
  // Without a commit there is no HEAD to diff against: the index (staged) plus the work tree's changes to it.
  const changes = await runner.run("git", ["-C", top, "diff", "--binary", ...(commit === null ? ["--cached"] : ["HEAD"])]);
  const unstaged = commit === null ? await runner.run("git", ["-C", top, "diff", "--binary"]) : { exitCode: 0, stdout: "" };
  const dirty = commit === null ? true : changes.stdout !== "";
  const identity =
    changes.exitCode === 0 && unstaged.exitCode === 0 ? sha256(`git\0${commit ?? "none"}\0${sub}\0${changes.stdout}\0${unstaged.stdout}`) : null;
  const ref = `git+file://${top}${sub === "" ? "" : `?dir=${encodeURIComponent(sub).replace(/%2F/g, "/")}`}`;
  return { ref, kind: "git", sourceRoot: top, commit, dirty, identity };
}

async function git(runner: ProcessRunner, dir: string, args: string[]): Promise<string | null> {
  const result = await runner.run("git", ["-C", dir, ...args]);
  return result.exitCode === 0 && result.stdout.trim() !== "" ? result.stdout.trim() : null;
}

function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A path flake's content, as Nix copies it: every file, link and mode under the directory. */
function hashDirectory(dir: string): string {
  const hash = createHash("sha256");
  const walk = (path: string) => {
    const stat = lstatSync(path);
    const name = relative(dir, path);
    if (stat.isSymbolicLink()) hash.update(`l\0${name}\0${readlinkSync(path)}\0`);
    else if (stat.isDirectory()) {
      hash.update(`d\0${name}\0`);
      for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    } else if (stat.isFile()) {
      hash.update(`f\0${name}\0${stat.mode & 0o111 ? "x" : "-"}\0${stat.size}\0`);
      hash.update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest("hex");
}
