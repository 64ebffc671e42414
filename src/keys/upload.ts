// Places, removes and checks keys on one node over its Host: what apply, upload-keys and status call.
import { Readable } from "node:stream";
import type { Node } from "../config/normalize.js";
import type { CommandResult, NodeShell } from "../node/shell.js";
import { KeyTargetError, KeyUploadError } from "./errors.js";
import { type KeyPlacement, type UploadAt, keyPlacements } from "./placement.js";
import { type ListedEntry, hiveRecordOf, inspectScript, listManifestScript, parseInspectOutput, parseManifestListing, removeScript } from "./manifest.js";
import { EXIT_KEYS_REFUSED, type UploadOutcome, parseUploadOutput, uploadScript, uploadStreamChunks } from "./scripts.js";
import type { PreparedKeys } from "./sources.js";

/** What key work needs of a node: its settings and a way to run scripts as root. */
export type KeyHost = Pick<NodeShell, "runAsRoot"> & { readonly node: Node };

/** Which keys an upload places: apply uploads each phase at its moment, upload-keys all at once. */
export type UploadPhase = UploadAt | "all";

export interface UploadedKey {
  name: string;
  path: string;
  /** `unchanged`: the node already had this content, owner and mode. */
  outcome: UploadOutcome;
}

export interface RemovedKey {
  /** The key's name in hive.ts when hive placed it. */
  name: string;
  path: string;
}

export interface MissingKey {
  name: string;
  path: string;
  uploadAt: UploadAt;
  /** hive's record on the node says it placed this file; it has gone since (a reboot empties /run/keys). */
  placedBefore: boolean;
}

export interface KeyInspection {
  present: KeyPlacement[];
  missing: MissingKey[];
  /** Files hive placed for keys that hive.ts no longer has; the next upload removes them. */
  stale: RemovedKey[];
}

export interface KeyScriptOptions {
  /** Where the node's record of placed keys lives; default KEYS_MANIFEST_DIR (tests use a temp dir). */
  manifestDir?: string;
}

export interface UploadKeysOptions extends KeyScriptOptions {
  now?: () => Date;
  timeoutMs?: number;
}

/**
 * Uploads the prepared keys of the phase over one script run as root. The bytes travel on the
 * command's stdin only. Does nothing (no round trip) when the phase has no keys. Throws
 * KeyTargetError when an owner, group or path is unusable (nothing written), KeyUploadError when
 * writing failed part-way.
 */
export async function uploadKeys(host: KeyHost, prepared: PreparedKeys, phase: UploadPhase, options: UploadKeysOptions = {}): Promise<UploadedKey[]> {
  const keys = prepared.keys.filter((k) => phase === "all" || k.uploadAt === phase);
  if (keys.length === 0) return [];
  const uploadedAt = (options.now ?? (() => new Date()))().toISOString();
  const stdin = Readable.from(uploadStreamChunks(keys.map((k) => k.secret.bytes())), { objectMode: false });
  const script = uploadScript(keys, uploadedAt, hiveRecordOf(prepared.hiveName), options.manifestDir);
  const result = await host.runAsRoot(script, { stdin, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  const outcomes = parseUploadOutput(result.stdout);
  const placed = keys.flatMap((k, i) => {
    const outcome = outcomes.get(i);
    return outcome === undefined ? [] : [{ name: k.name, path: k.path, outcome }];
  });
  if (result.exitCode === EXIT_KEYS_REFUSED) {
    throw new KeyTargetError(`${scriptProblem(result)}; no key was written`, stderrLines(result));
  }
  if (result.exitCode !== 0 || placed.length !== keys.length) {
    const done = placed.length > 0 ? `; placed before the failure: ${placed.map((p) => p.name).join(", ")}` : "; no key was written";
    throw new KeyUploadError(`uploading keys failed: ${scriptProblem(result)}${done}`, stderrLines(result));
  }
  return placed;
}

/**
 * Removes the files hive placed for keys hive.ts no longer has, and forgets them. One round trip
 * when nothing is stale; none when the caller already read `manifestListing` (keyManifestScript's
 * output, e.g. folded into the node lock's script).
 */
export async function removeStaleKeys(
  host: KeyHost,
  node: Pick<Node, "keys" | "hiveName"> = host.node,
  options: KeyScriptOptions & { manifestListing?: string } = {},
): Promise<RemovedKey[]> {
  const listing = options.manifestListing ?? (await runChecked(host, listManifestScript(options.manifestDir), "reading hive's record of the node's keys")).stdout;
  const hive = hiveRecordOf(node.hiveName);
  const stale = staleEntries(parseManifestListing(listing).entries, keyPlacements(node), hive.id);
  if (stale.length === 0) return [];
  const result = await host.runAsRoot(removeScript(stale, hive, options.manifestDir));
  const removed = new Set(result.stdout.split("\n").flatMap((l) => /^removed (\d+)$/.exec(l.trim())?.slice(1) ?? []).map(Number));
  if (result.exitCode !== 0) throw new KeyUploadError(`removing keys no longer in hive.ts failed: ${scriptProblem(result)}`, stderrLines(result));
  return stale.filter((_, i) => removed.has(i)).map((s) => ({ name: s.entry.key, path: s.entry.path }));
}

/** Lists hive's record of the node's keys (run as root), for folding into a script of the caller's own. */
export function keyManifestScript(options: KeyScriptOptions = {}): string {
  // A subshell: the listing ends early (exit) when the node has no record yet.
  return `(\n${listManifestScript(options.manifestDir)}\n)`;
}

/** Which of the node's keys are on it, which are missing, and which stale ones hive would remove. */
export async function inspectKeys(host: KeyHost, node: Pick<Node, "keys" | "hiveName"> = host.node, options: KeyScriptOptions = {}): Promise<KeyInspection> {
  const result = await runChecked(host, keyInspectionScript(node, options), "checking the node's keys");
  return parseKeyInspection(node, result.stdout);
}

/** The script behind inspectKeys, for callers that fold it into a script of their own (run as root; prints its lines on stdout). */
export function keyInspectionScript(node: Pick<Node, "keys">, options: KeyScriptOptions = {}): string {
  return inspectScript(keyPlacements(node), options.manifestDir);
}

/** Reads what keyInspectionScript printed. */
export function parseKeyInspection(node: Pick<Node, "keys" | "hiveName">, stdout: string): KeyInspection {
  const placements = keyPlacements(node);
  const { present, listing } = parseInspectOutput(stdout);
  const hive = hiveRecordOf(node.hiveName).id;
  const entries = parseManifestListing(listing).entries.filter((e) => e.hive === hive);
  const recorded = new Set(entries.map((e) => e.entry.path));
  return {
    present: placements.filter((_, i) => present.has(i)),
    missing: placements
      .filter((_, i) => !present.has(i))
      .map((p) => ({ name: p.name, path: p.path, uploadAt: p.uploadAt, placedBefore: recorded.has(p.path) })),
    stale: staleEntries(entries, placements, hive).map((s) => ({ name: s.entry.key, path: s.entry.path })),
  };
}

/** The node's keys (from hive.ts) that are not on it: for `hive status`. */
export async function missingKeys(host: KeyHost, node: Pick<Node, "keys" | "hiveName"> = host.node, options: KeyScriptOptions = {}): Promise<MissingKey[]> {
  return (await inspectKeys(host, node, options)).missing;
}

/** This hive's manifest entries whose path no key of the node has any more; other hives' keys are never stale here. */
export function staleEntries(entries: readonly ListedEntry[], placements: readonly KeyPlacement[], hive: string): ListedEntry[] {
  const wanted = new Set(placements.map((p) => p.path));
  return entries.filter((e) => e.hive === hive && !wanted.has(e.entry.path));
}

async function runChecked(host: KeyHost, script: string, what: string): Promise<CommandResult> {
  const result = await host.runAsRoot(script, { timeoutMs: 60_000 });
  if (result.exitCode !== 0) throw new KeyUploadError(`${what} failed: ${scriptProblem(result)}`, stderrLines(result));
  return result;
}

/** The script's own `hive-keys:` message, else the last stderr line, else what happened to it. */
function scriptProblem(result: CommandResult): string {
  const lines = stderrLines(result);
  const own = lines.filter((l) => l.startsWith("hive-keys: ")).at(-1);
  if (own !== undefined) return own.slice("hive-keys: ".length);
  if (result.timedOut) return "timed out";
  if (result.exitCode === null) return "the connection was lost";
  return lines.at(-1) ?? `exit ${result.exitCode}`;
}

function stderrLines(result: CommandResult): string[] {
  return result.stderr.split("\n").filter((l) => l.trim() !== "").slice(-20);
}
