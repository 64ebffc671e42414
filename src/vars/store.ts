// vars/ on disk: reading what is stored, and replacing one instance's files so a failure leaves the old ones.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ResolvedGenerator, type VarInstance, instanceDir, instanceFor, storedFileName } from "../config/generators.js";
import type { Hive } from "../config/normalize.js";
import { VarsStoreError } from "./errors.js";
import { MANIFEST_FILE, type Manifest, type StoredState, parseManifest, sha256 } from "./manifest.js";

/** The manifest and the hash of each declared file, as stored; a manifest that does not parse is an error naming it. */
export async function readStored(varsDir: string, instance: VarInstance, generator: Pick<ResolvedGenerator, "files">): Promise<StoredState> {
  const dir = instanceDir(varsDir, instance);
  const manifestText = await readIfFile(join(dir, MANIFEST_FILE));
  let manifest: Manifest | null = null;
  if (manifestText !== null) {
    try {
      manifest = parseManifest(manifestText.toString("utf8"));
    } catch (error) {
      throw new VarsStoreError(`${join(dir, MANIFEST_FILE)}: ${(error as Error).message}`, "restore it from git, or delete the directory and run `hive vars generate`");
    }
  }
  const hashes: Record<string, string | null> = {};
  for (const [name, file] of Object.entries(generator.files)) {
    const stored = storedFileName(name, file.secret);
    const bytes = await readIfFile(join(dir, stored));
    hashes[stored] = bytes === null ? null : sha256(bytes);
  }
  return { manifest, hashes };
}

/** A stored file's bytes, or null when there is none. Only regular files count: never a link's target. */
export async function readIfFile(path: string): Promise<Buffer | null> {
  try {
    if (!(await lstat(path)).isFile()) return null;
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new VarsStoreError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export interface FileToStore {
  name: string;
  secret: boolean;
  /** What goes on disk: ciphertext for secrets, the content for public files. */
  stored: Buffer;
}

/**
 * Replaces an instance's files: each is written beside its place and renamed over it, the
 * manifest last, then files the generator no longer declares are removed. Until the manifest is
 * renamed the old one stays, and its hashes mark any half-written set as changed (stale).
 */
export async function writeInstance(varsDir: string, instance: VarInstance, files: readonly FileToStore[], manifest: Manifest): Promise<void> {
  const dir = instanceDir(varsDir, instance);
  const suffix = randomBytes(6).toString("hex");
  try {
    await mkdir(dir, { recursive: true });
    const keep = new Set([MANIFEST_FILE]);
    for (const file of files) {
      const name = storedFileName(file.name, file.secret);
      keep.add(name);
      await replaceFile(join(dir, name), file.stored, suffix);
    }
    await replaceFile(join(dir, MANIFEST_FILE), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), suffix);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isFile() && !keep.has(entry.name)) await rm(join(dir, entry.name), { force: true });
    }
  } catch (error) {
    if (error instanceof VarsStoreError) throw error;
    throw new VarsStoreError(`cannot write ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

async function replaceFile(path: string, bytes: Buffer, suffix: string): Promise<void> {
  const temporary = `${path}.${suffix}.tmp`;
  // `wx`: never through a file or link that someone put there.
  await writeFile(temporary, bytes, { flag: "wx", mode: 0o644 });
  await rename(temporary, path);
}

/** Public files by generator then file name; null where a file has not been generated yet. */
export type PublicVarValues = Record<string, Record<string, string | null>>;

/** Each node's public vars (its own generators' and the shared ones it is in). */
export type PublicVarsByNode = ReadonlyMap<string, PublicVarValues>;

/** A public file's content as stored, or null when it has not been generated. */
export async function readPublicFile(varsDir: string, instance: VarInstance, file: string): Promise<string | null> {
  const bytes = await readIfFile(join(instanceDir(varsDir, instance), storedFileName(file, false)));
  return bytes === null ? null : bytes.toString("utf8");
}

/** Every node's public vars: what reaches Nix as config.hive.vars (null where not generated yet). */
export async function readPublicVars(hive: Pick<Hive, "nodes" | "vars">): Promise<PublicVarsByNode> {
  const cache = new Map<string, Promise<string | null>>();
  const read = (instance: VarInstance, file: string) => {
    const key = JSON.stringify([instance.generator, instance.node, file]);
    if (!cache.has(key)) cache.set(key, readPublicFile(hive.vars.dir, instance, file));
    return cache.get(key)!;
  };
  const byNode = new Map<string, PublicVarValues>();
  for (const node of hive.nodes) {
    const values: PublicVarValues = {};
    for (const generator of hive.vars.generators) {
      if (!generator.nodes.includes(node.name)) continue;
      const publicFiles = Object.entries(generator.files).filter(([, f]) => !f.secret);
      if (publicFiles.length === 0) continue;
      values[generator.name] = {};
      for (const [name] of publicFiles) values[generator.name]![name] = await read(instanceFor(generator, node.name), name);
    }
    byNode.set(node.name, values);
  }
  return byNode;
}
