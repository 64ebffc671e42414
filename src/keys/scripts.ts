// The shell scripts hive runs on a node (as root) to place, list and remove keys: pure, no secrets in them.
import { createHash } from "node:crypto";
import { quoteShellArg as q } from "../ssh/quote.js";
import type { KeyPlacement, UploadAt } from "./placement.js";

/**
 * Where hive records the keys it placed on a node, one small JSON file per key path. It lives
 * under /nix/var (persistent, like the deployment records) and not beside the keys: a reboot
 * empties /run/keys, and the record must still say what hive had placed there.
 */
export const KEYS_MANIFEST_DIR = "/nix/var/hive/keys";

/** Exit code of the upload script when a check failed before anything was written. */
export const EXIT_KEYS_REFUSED = 3;
/** Exit code of the upload and removal scripts when they failed part-way. */
export const EXIT_KEYS_FAILED = 4;

/** What the manifest says about one key hive placed (paths and ownership, never content). */
export interface ManifestEntry {
  /** The key's name in hive.ts when it was placed. */
  key: string;
  path: string;
  user: string;
  group: string;
  permissions: string;
  uploadAt: UploadAt;
  uploadedAt: string;
}

/** The manifest file of a key path: a hash of the path, so any path makes a safe file name. */
export function manifestEntryFile(path: string): string {
  return `${createHash("sha256").update(path).digest("hex").slice(0, 32)}.json`;
}

const common = (manifestDir: string) => `set -u
umask 077
M=${q(manifestDir)}
refuse() { printf 'hive-keys: %s\\n' "$1" >&2; exit ${EXIT_KEYS_REFUSED}; }
abort() { printf 'hive-keys: %s\\n' "$1" >&2; exit ${EXIT_KEYS_FAILED}; }
group_exists() {
  if command -v getent >/dev/null 2>&1; then getent group "$1" >/dev/null 2>&1
  else awk -F: -v g="$1" '$1 == g { found = 1 } END { exit !found }' /etc/group; fi
}`;

/**
 * Places keys read from stdin, in the given order. stdin carries, per key, its size in bytes on
 * a line, then exactly that many bytes; the script is the only place their metadata appears.
 * First every owner, group and path is checked, and a failing check exits 3 before anything is
 * written. Then per key: an empty temp file in destDir gets the final owner and mode, the bytes
 * go into it, and it is renamed over the key (or dropped when the key already had that content,
 * owner and mode). Prints `written N` or `unchanged N` per key, N its index.
 */
export function uploadScript(keys: readonly KeyPlacement[], uploadedAt: string, manifestDir = KEYS_MANIFEST_DIR): string {
  const checks: string[] = [];
  const seen = new Set<string>();
  const once = (id: string, line: string) => {
    if (!seen.has(id)) checks.push(line);
    seen.add(id);
  };
  for (const k of keys) {
    once(`u:${k.user}`, `id -u ${q(k.user)} >/dev/null 2>&1 || refuse ${q(`user ${JSON.stringify(k.user)} of key ${k.name} does not exist on the node`)}`);
    once(`g:${k.group}`, `group_exists ${q(k.group)} || refuse ${q(`group ${JSON.stringify(k.group)} of key ${k.name} does not exist on the node`)}`);
    once(`d:${k.destDir}`, `[ ! -e ${q(k.destDir)} ] || [ -d ${q(k.destDir)} ] || refuse ${q(`${k.destDir} (destDir of key ${k.name}) exists and is not a directory`)}`);
    checks.push(`if [ -d ${q(k.path)} ] && [ ! -L ${q(k.path)} ]; then refuse ${q(`${k.path} (key ${k.name}) is a directory`)}; fi`);
  }
  const places = keys.map((k, i) => {
    const entry: ManifestEntry = { key: k.name, path: k.path, user: k.user, group: k.group, permissions: k.permissions, uploadAt: k.uploadAt, uploadedAt };
    return `place ${i} ${q(k.destDir)} ${q(k.path)} ${q(`${k.user}:${k.group}`)} ${q(k.permissions)} ${q(manifestEntryFile(k.path))} ${q(JSON.stringify(entry))}`;
  });
  return `${common(manifestDir)}
${checks.join("\n")}
tmp=
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT
trap 'exit ${EXIT_KEYS_FAILED}' HUP INT TERM PIPE
{ (umask 022 && mkdir -p -- "\${M%/*}") && mkdir -p -m 0700 -- "$M"; } || abort "cannot create $M"
# A missing destDir is made 0750, group keys where that group exists; its parents 0755.
ensure_dir() {
  [ -d "$1" ] && return 0
  if group_exists keys; then (umask 022 && install -d -m 0750 -g keys -- "$1"); else (umask 022 && install -d -m 0750 -- "$1"); fi ||
    abort "cannot create directory $1"
}
# place INDEX DIR PATH OWNER:GROUP MODE MANIFEST-FILE MANIFEST-JSON
place() {
  ensure_dir "$2"
  IFS= read -r size || abort "the key stream ended early (connection lost?)"
  case $size in '' | *[!0-9]*) abort "the key stream is malformed" ;; esac
  tmp=$(mktemp "$2/.hive-key.XXXXXXXX") || abort "cannot create a temporary file in $2"
  chown -- "$4" "$tmp" || abort "cannot give $3 to $4"
  chmod -- "$5" "$tmp" || abort "cannot set mode $5 on $3"
  head -c "$size" > "$tmp" || abort "cannot write $3"
  got=$(wc -c < "$tmp" | tr -d ' ')
  [ "$got" = "$size" ] || abort "received $got of $size bytes for $3 (connection lost?)"
  if [ -f "$3" ] && [ ! -L "$3" ] && cmp -s -- "$tmp" "$3" 2>/dev/null &&
    [ "$(stat -c %u:%g:%a -- "$3" 2>/dev/null)" = "$(stat -c %u:%g:%a -- "$tmp")" ]; then
    rm -f -- "$tmp"; tmp=; outcome=unchanged
  else
    mv -f -T -- "$tmp" "$3" || abort "cannot move the key into $3"; tmp=; outcome=written
  fi
  printf '%s\\n' "$7" > "$M/.$6.tmp" && mv -f -- "$M/.$6.tmp" "$M/$6" || abort "cannot record $3 in $M"
  echo "$outcome $1"
}
${places.join("\n")}
exit 0
`;
}

/** The stdin of `uploadScript`: per key, its size on a line, then its bytes. */
export function uploadStreamChunks(secrets: readonly Buffer[]): Buffer[] {
  return secrets.flatMap((bytes) => [Buffer.from(`${bytes.length}\n`, "ascii"), bytes]);
}

export type UploadOutcome = "written" | "unchanged";

/** The outcome of each key by index, from the upload script's stdout. */
export function parseUploadOutput(stdout: string): Map<number, UploadOutcome> {
  const outcomes = new Map<number, UploadOutcome>();
  for (const line of stdout.split("\n")) {
    const match = /^(written|unchanged) (\d+)$/.exec(line.trim());
    if (match) outcomes.set(Number(match[2]), match[1] as UploadOutcome);
  }
  return outcomes;
}

/** Lists the manifest: one `FILE<TAB>JSON` line per entry. */
export const listManifestScript = (manifestDir = KEYS_MANIFEST_DIR) => `M=${q(manifestDir)}
[ -d "$M" ] || exit 0
for f in "$M"/*.json; do
  [ -f "$f" ] || continue
  printf '%s\\t' "\${f##*/}"; tr -d '\\n' < "$f"; echo
done`;

export interface ListedEntry {
  file: string;
  entry: ManifestEntry;
}

/** Entries from `listManifestScript`'s output; lines that do not parse are skipped (and reported). */
export function parseManifestListing(stdout: string): { entries: ListedEntry[]; unreadable: string[] } {
  const entries: ListedEntry[] = [];
  const unreadable: string[] = [];
  for (const line of stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab <= 0) continue;
    const file = line.slice(0, tab);
    try {
      const entry = JSON.parse(line.slice(tab + 1)) as Partial<ManifestEntry>;
      if (typeof entry.path !== "string" || typeof entry.key !== "string") throw new Error("not an entry");
      entries.push({ file, entry: entry as ManifestEntry });
    } catch {
      unreadable.push(file);
    }
  }
  return { entries, unreadable };
}

/** Removes the given keys and their manifest entries; prints `removed N` per key, N its index. */
export function removeScript(stale: readonly ListedEntry[], manifestDir = KEYS_MANIFEST_DIR): string {
  const removals = stale.map(
    (s, i) => `rm -f -- ${q(s.entry.path)} && rm -f -- "$M"/${q(s.file)} && echo "removed ${i}" || { printf 'hive-keys: %s\\n' ${q(`cannot remove ${s.entry.path}`)} >&2; rc=${EXIT_KEYS_FAILED}; }`,
  );
  return `M=${q(manifestDir)}
rc=0
${removals.join("\n")}
exit $rc
`;
}

/** For each key: `present N` or `missing N` (N its index); then the manifest listing after a `--` line. */
export function inspectScript(keys: readonly KeyPlacement[], manifestDir = KEYS_MANIFEST_DIR): string {
  const checks = keys.map((k, i) => `if [ -f ${q(k.path)} ]; then echo "present ${i}"; else echo "missing ${i}"; fi`);
  return `${checks.join("\n")}
echo --
${listManifestScript(manifestDir)}
`;
}

export function parseInspectOutput(stdout: string): { present: Set<number>; missing: Set<number>; listing: string } {
  const lines = stdout.split("\n");
  const marker = lines.indexOf("--");
  const present = new Set<number>();
  const missing = new Set<number>();
  const listing = marker < 0 ? "" : lines.slice(marker + 1).join("\n");
  for (const line of marker < 0 ? lines : lines.slice(0, marker)) {
    const match = /^(present|missing) (\d+)$/.exec(line.trim());
    if (match) (match[1] === "present" ? present : missing).add(Number(match[2]));
  }
  return { present, missing, listing };
}
