// hive's record on a node of the keys each hive placed: its layout, and the scripts that list, inspect and remove by it.
import { createHash } from "node:crypto";
import { quoteShellArg as q } from "../ssh/quote.js";
import { AS_USER_FN, EXIT_KEYS_FAILED, NODE_SHELL_LIB } from "./node-shell.js";
import type { KeyPlacement, UploadAt } from "./placement.js";

/**
 * Where hive records the keys it placed on a node: one directory per hive (named by a hash of
 * its name), one small JSON file per key path in it. It lives under /nix/var (persistent, like
 * the deployment records) and not beside the keys: a reboot empties /run/keys, and the record
 * must still say what hive had placed there. Files directly in it are records from before
 * they were kept per hive: hive never removes a key by those.
 */
export const KEYS_MANIFEST_DIR = "/nix/var/hive/keys";

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
  /** `device:inode:uid` of the file hive placed; only that file is ever removed. */
  file?: string;
}

/** Which hive a record belongs to: `id` names its directory, `label` (meta.name or the hive.ts path) is for people. */
export interface HiveRecord {
  id: string;
  label: string;
}

export function hiveRecordOf(hiveName: string): HiveRecord {
  return { id: createHash("sha256").update(`hive:${hiveName}`).digest("hex").slice(0, 32), label: hiveName };
}

/** The manifest file of a key path: a hash of the path, so any path makes a safe file name. */
export function manifestEntryFile(path: string): string {
  return `${createHash("sha256").update(path).digest("hex").slice(0, 32)}.json`;
}

/** Lists the manifest: one `HIVE<TAB>FILE<TAB>JSON` line per entry, HIVE `-` for records kept before hives had their own. */
export const listManifestScript = (manifestDir = KEYS_MANIFEST_DIR) => `M=${q(manifestDir)}
[ -d "$M" ] || exit 0
for f in "$M"/*.json "$M"/*/*.json; do
  [ -f "$f" ] || continue
  rel=\${f#"$M"/}
  case $rel in */*) h=\${rel%%/*} ;; *) h=- ;; esac
  printf '%s\\t%s\\t' "$h" "\${f##*/}"; tr -d '\\n' < "$f"; echo
done`;

export interface ListedEntry {
  /** The id of the hive that placed the key; null for a record from before hives had their own. */
  hive: string | null;
  file: string;
  entry: ManifestEntry;
}

/** Entries from `listManifestScript`'s output; lines that do not parse are skipped (and reported). */
export function parseManifestListing(stdout: string): { entries: ListedEntry[]; unreadable: string[] } {
  const entries: ListedEntry[] = [];
  const unreadable: string[] = [];
  for (const line of stdout.split("\n")) {
    const match = /^([^\t]+)\t([^\t]+)\t(.*)$/.exec(line);
    if (match === null) continue;
    const [, hive, file, json] = match as unknown as [string, string, string, string];
    try {
      const entry = JSON.parse(json) as Partial<ManifestEntry>;
      if (typeof entry.path !== "string" || typeof entry.key !== "string") throw new Error("not an entry");
      entries.push({ hive: hive === "-" ? null : hive, file, entry: entry as ManifestEntry });
    } catch {
      unreadable.push(file);
    }
  }
  return { entries, unreadable };
}

/**
 * Removes the given keys of one hive and their records; prints `removed N` per key, N its
 * index. A key is removed only when its directories pass check_path and the file there is still
 * the one hive placed (same device, inode and owner), by its owner where the directory is
 * theirs; one already gone is forgotten. Anything else is refused, and the record kept.
 */
export function removeScript(stale: readonly ListedEntry[], hive: HiveRecord, manifestDir = KEYS_MANIFEST_DIR): string {
  const removals = stale.map((s, i) => `remove_one ${i} ${q(s.entry.key)} ${q(s.entry.path)} ${q(s.entry.file ?? "")} ${q(s.file)} || rc=${EXIT_KEYS_FAILED}`);
  return `${NODE_SHELL_LIB}
${AS_USER_FN}
M=${q(manifestDir)}
H=${q(hive.id)}
rc=0
# remove_one INDEX KEY PATH DEVICE:INODE:UID ENTRY-FILE, in a subshell: a refusal ends that key only.
remove_one() (
  path=$3 ident=$4 uid=\${4##*:}
  [ -n "$ident" ] || refuse "not removing $path (key $2): hive's record does not say which file it placed"
  check_path "\${path%/*}/" "$uid" "key $2"
  if [ -e "$path" ] || [ -L "$path" ]; then
    [ ! -L "$path" ] || refuse "not removing $path (key $2): it is now a symbolic link, not the file hive placed; remove it yourself if it should go, and hive forgets it"
    [ -f "$path" ] && [ "$(stat -c %d:%i:%u -- "$path")" = "$ident" ] ||
      refuse "not removing $path (key $2): it is not the file hive placed there (replaced since); remove it yourself if it should go, and hive forgets it"
    if [ "$owned" = 1 ]; then
      user=$( { getent passwd "$uid" || awk -F: -v u="$uid" '$3 == u' /etc/passwd; } 2>/dev/null | head -n 1 | cut -d: -f1)
      [ -n "$user" ] || refuse "not removing $path (key $2): its directory belongs to uid $uid, who no longer exists"
      as_user "$user" "$uid" rm -f -- "$path" || abort "cannot remove $path"
    else
      rm -f -- "$path" || abort "cannot remove $path"
    fi
  fi
  rm -f -- "$M/$H/$5" || abort "cannot update $M/$H"
  echo "removed $1"
)
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
