// What hive records beside each generated set of files, and the verdict it supports: ok, missing, stale or rekey.
//
// Stale means the files no longer follow from hive.ts: the generator's definition (command, files,
// dependencies, share) changed, a dependency was regenerated since (its random generation id
// differs from the one recorded), or a stored file changed outside hive (its hash differs).
// Rekey means only the recipients changed: the files are re-encrypted, not regenerated. The
// manifest holds hashes of stored bytes only (ciphertext for secrets): never of a secret's content.
import { createHash } from "node:crypto";
import type { ResolvedGenerator, VarInstance } from "../config/generators.js";
import { storedFileName } from "../config/generators.js";

export const MANIFEST_FILE = ".manifest.json";

export interface Manifest {
  version: 1;
  generator: string;
  /** null for a shared generator. */
  node: string | null;
  /** Random per generation: dependents record it to notice a regeneration. Kept by a rekey. */
  id: string;
  generatedAt: string;
  /** definitionHash of the generator that made these files. */
  definition: string;
  /** Dependency name to the id of the files it read. */
  inputs: Record<string, string>;
  /** The recipients secret files are encrypted for, normalized and sorted; [] without secret files. */
  recipients: string[];
  /** File name to whether it is secret and the SHA-256 of its stored bytes. */
  files: Record<string, { secret: boolean; sha256: string }>;
}

export type VarState = "ok" | "missing" | "stale" | "rekey";

export interface InstanceVerdict {
  state: VarState;
  /** Why, one line each; empty when ok. */
  reasons: string[];
}

/** What in a generator decides its files' content: not its nodes, description or deploy settings. */
export function definitionHash(generator: Pick<ResolvedGenerator, "command" | "files" | "dependencies" | "share">): string {
  const files = Object.entries(generator.files)
    .map(([name, f]) => [name, f.secret] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify({ command: generator.command, files, dependencies: [...generator.dependencies].sort(), share: generator.share });
  return `sha256:${sha256(canonical)}`;
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `ssh-ed25519 AAAA... comment` and `ssh-ed25519 AAAA...` are the same recipient. */
export function normalizeRecipients(recipients: readonly string[]): string[] {
  return [...new Set(recipients.map((r) => r.trim().split(/\s+/).slice(0, 2).join(" ")))].sort();
}

export function parseManifest(text: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (value.version !== 1 || typeof value.id !== "string" || typeof value.files !== "object" || value.files === null) {
    throw new Error("not a hive vars manifest (version 1)");
  }
  return { inputs: {}, recipients: [], ...value } as Manifest;
}

export interface StoredState {
  manifest: Manifest | null;
  /** Stored file name to the SHA-256 of its bytes, or null when absent. */
  hashes: Record<string, string | null>;
}

/**
 * The verdict on one instance from what is stored. `dependencies` gives each dependency's current
 * manifest (null when it has none); `recipients` are hive.ts's.
 */
export function judgeInstance(
  generator: Pick<ResolvedGenerator, "name" | "command" | "files" | "dependencies" | "share">,
  stored: StoredState,
  dependencies: Record<string, Manifest | null>,
  recipients: readonly string[],
): InstanceVerdict {
  const { manifest } = stored;
  const absent = Object.entries(generator.files)
    .filter(([name, f]) => stored.hashes[storedFileName(name, f.secret)] == null)
    .map(([name]) => name);
  if (manifest === null) return { state: "missing", reasons: ["never generated"] };
  if (absent.length > 0) return { state: "missing", reasons: [`${absent.join(", ")} not stored`] };

  const stale: string[] = [];
  if (manifest.definition !== definitionHash(generator)) stale.push("its definition (command, files, dependencies or share) changed since it was generated");
  for (const dependency of generator.dependencies) {
    const current = dependencies[dependency];
    if (current === null || current === undefined) stale.push(`dependency ${dependency} has no files`);
    else if (manifest.inputs[dependency] !== current.id) stale.push(`dependency ${dependency} was regenerated since`);
  }
  for (const [name, f] of Object.entries(generator.files)) {
    const file = storedFileName(name, f.secret);
    const recorded = manifest.files[name]?.sha256;
    if (recorded !== undefined && recorded !== stored.hashes[file]) stale.push(`${file} was changed outside hive`);
  }
  const hasSecrets = Object.values(generator.files).some((f) => f.secret);
  const wanted = hasSecrets ? normalizeRecipients(recipients) : [];
  const added = wanted.filter((r) => !manifest.recipients.includes(r));
  const removed = manifest.recipients.filter((r) => !wanted.includes(r));
  // A stale instance is not re-encrypted (that would bless a file changed outside hive): regenerating it does both.
  const rekey = added.length + removed.length > 0 ? [`encrypted for other recipients than vars.recipients (${[...added.map((r) => `+${shortRecipient(r)}`), ...removed.map((r) => `-${shortRecipient(r)}`)].join(" ")})`] : [];
  if (stale.length > 0) return { state: "stale", reasons: [...stale, ...rekey] };
  if (rekey.length > 0) return { state: "rekey", reasons: rekey };
  return { state: "ok", reasons: [] };
}

function shortRecipient(recipient: string): string {
  return recipient.length > 24 ? `${recipient.slice(0, 20)}...` : recipient;
}

/** `ssh-host for t1`, `db-password (shared)`. */
export function describeInstance(instance: VarInstance): string {
  return instance.node === null ? `${instance.generator} (shared)` : `${instance.generator} for ${instance.node}`;
}
