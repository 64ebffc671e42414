// The shell script hive runs on a node (as root) to place keys: pure, no secrets in it.
import { quoteShellArg as q } from "../ssh/quote.js";
import { type HiveRecord, KEYS_MANIFEST_DIR, type ManifestEntry, manifestEntryFile } from "./manifest.js";
import { AS_USER_FN, EXIT_KEYS_FAILED, NODE_SHELL_LIB } from "./node-shell.js";
import type { KeyPlacement } from "./placement.js";

export { EXIT_KEYS_FAILED, EXIT_KEYS_REFUSED } from "./node-shell.js";

/**
 * Writes one key, as whoever runs it (root, or the key's owner in a directory of theirs): the
 * missing directories, an empty temp file with the final group and mode, the bytes from stdin,
 * then a rename over the key unless it already had that content, owner and mode. Prints the
 * outcome and the key file's identity (device:inode:uid), which removal checks later.
 * Arguments: DIR PATH USER GROUP MODE SIZE.
 */
const WRITE_KEY = `${NODE_SHELL_LIB}
dir=$1 path=$2 user=$3 group=$4 mode=$5 size=$6 tmp=
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT
trap 'exit ${EXIT_KEYS_FAILED}' HUP INT TERM PIPE
if [ ! -d "$dir" ]; then
  make_dirs "$dir" 0750
  # A new destDir is group keys where that group exists (and root creates it).
  if [ "$(id -u)" = 0 ] && group_exists keys; then chgrp -- keys "$dir" || abort "cannot give $dir to group keys"; fi
fi
tmp=$(mktemp "$dir/.hive-key.XXXXXXXX") || abort "cannot create a temporary file in $dir"
if [ "$(id -u)" = 0 ]; then chown -h -- "$user:$group" "$tmp" || abort "cannot give $path to $user:$group"
else chgrp -h -- "$group" "$tmp" || abort "cannot give $path to group $group"; fi
chmod -- "$mode" "$tmp" || abort "cannot set mode $mode on $path"
head -c "$size" > "$tmp" || abort "cannot write $path"
got=$(wc -c < "$tmp" | tr -d ' ')
[ "$got" = "$size" ] || abort "received $got of $size bytes for $path (connection lost?)"
if [ -f "$path" ] && [ ! -L "$path" ] && cmp -s -- "$tmp" "$path" 2>/dev/null &&
  [ "$(stat -c %u:%g:%a -- "$path" 2>/dev/null)" = "$(stat -c %u:%g:%a -- "$tmp")" ]; then
  rm -f -- "$tmp"; tmp=; outcome=unchanged
else
  mv -f -T -- "$tmp" "$path" || abort "cannot move the key into $path"; tmp=; outcome=written
fi
echo "$outcome $(stat -c %d:%i:%u -- "$path")"`;

/**
 * Places keys read from stdin, in the given order. stdin carries, per key, its size in bytes on
 * a line, then exactly that many bytes; the script is the only place their metadata appears.
 * First every owner, group and path is checked (see check_path), and so is hive's record
 * under /nix/var/hive/keys; a failing check exits 3 before anything is written. A key path
 * that another hive placed is refused too: two hives would undo each other's key. Then each key
 * is written (WRITE_KEY, as its owner where the directory is theirs) and recorded under this
 * hive with the identity of the file. Prints `written N` or `unchanged N` per key, N its index.
 */
export function uploadScript(keys: readonly KeyPlacement[], uploadedAt: string, hive: HiveRecord, manifestDir = KEYS_MANIFEST_DIR): string {
  const checks: string[] = [];
  const seen = new Set<string>();
  const once = (id: string, line: string) => {
    if (!seen.has(id)) checks.push(line);
    seen.add(id);
  };
  keys.forEach((k, i) => {
    const what = `key ${k.name}`;
    once(`u:${k.user}`, `uid_of ${q(k.user)} || refuse ${q(`user ${JSON.stringify(k.user)} of key ${k.name} does not exist on the node`)}`);
    once(`g:${k.group}`, `group_exists ${q(k.group)} || refuse ${q(`group ${JSON.stringify(k.group)} of key ${k.name} does not exist on the node`)}`);
    checks.push(`check_path ${q(k.destDir)} "$(id -u -- ${q(k.user)})" ${q(what)}; owned_${i}=$owned`);
    checks.push(`check_key_file ${q(k.path)} ${q(what)} ${q(manifestEntryFile(k.path))}`);
    checks.push(
      `if [ "$owned_${i}" = 1 ]; then check_can_act_as ${q(k.user)} ${q(k.group)} ${q(k.destDir)} ${q(what)}; fi`,
    );
  });
  const places = keys.map((k, i) => {
    const entry: ManifestEntry = { key: k.name, path: k.path, user: k.user, group: k.group, permissions: k.permissions, uploadAt: k.uploadAt, uploadedAt };
    return `place ${i} "$owned_${i}" ${q(k.destDir)} ${q(k.path)} ${q(k.user)} ${q(k.group)} ${q(k.permissions)} ${q(manifestEntryFile(k.path))} ${q(JSON.stringify(entry).slice(0, -1))}`;
  });
  return `${NODE_SHELL_LIB}
${AS_USER_FN}
M=${q(manifestDir)}
H=${q(hive.id)}
W=${q(WRITE_KEY)}
uid_of() { id -u -- "$1" >/dev/null 2>&1; }
# check_key_file PATH WHAT ENTRY-FILE: no link or non-file at the key's path, and no other hive's key there.
check_key_file() {
  if [ -L "$1" ]; then refuse "$1 ($2) is a symbolic link; hive does not write through symbolic links, remove it"; fi
  if [ -e "$1" ] && [ ! -f "$1" ]; then refuse "$1 ($2) exists and is not a regular file"; fi
  for other in "$M"/*/; do
    [ -f "$other$3" ] && [ "$other" != "$M/$H/" ] || continue
    refuse "$1 ($2) is a key of another hive ($(head -c 300 "\${other}hive" 2>/dev/null | tr -d '\\n')); two hives writing one file would undo each other: keep the key in one of them, or give both hive.ts the same meta.name"
  done
}
# In a directory of the key's owner, hive writes as that owner, who must be able to give it the key's group.
check_can_act_as() {
  [ "$(id -u)" = "$(id -u -- "$1")" ] || command -v setpriv >/dev/null 2>&1 ||
    refuse "$3 belongs to $1, so hive would write $4 there as $1, which needs setpriv (util-linux) on the node"
  id -Gn -- "$1" | tr ' ' '\\n' | grep -qxF -- "$2" ||
    refuse "$3 belongs to $1, so hive writes $4 there as $1, who is not in its group $2"
}
check_path "$M" 0 "hive's record of keys"
${checks.join("\n")}
{ make_dirs "$M" 0700 && make_dirs "$M/$H" 0700; } || abort "cannot create $M/$H"
printf '%s\\n' ${q(hive.label)} > "$M/$H/.hive.tmp" && mv -f -- "$M/$H/.hive.tmp" "$M/$H/hive" || abort "cannot write $M/$H/hive"
# place INDEX OWNED DIR PATH USER GROUP MODE ENTRY-FILE ENTRY-JSON-WITHOUT-ITS-CLOSING-BRACE
place() {
  IFS= read -r size || abort "the key stream ended early (connection lost?)"
  case $size in '' | *[!0-9]*) abort "the key stream is malformed" ;; esac
  if [ "$2" = 1 ]; then
    result=$(as_user "$5" "$(id -u -- "$5")" sh -c "$W" write-key "$3" "$4" "$5" "$6" "$7" "$size") || exit ${EXIT_KEYS_FAILED}
  else
    result=$(sh -c "$W" write-key "$3" "$4" "$5" "$6" "$7" "$size") || exit ${EXIT_KEYS_FAILED}
  fi
  outcome=\${result%% *} identity=\${result#* }
  printf '%s,"file":"%s"}\\n' "$9" "$identity" > "$M/$H/.$8.tmp" && mv -f -- "$M/$H/.$8.tmp" "$M/$H/$8" || abort "cannot record $4 in $M"
  # A record from before records were kept per hive: this hive now owns the key.
  rm -f -- "$M/$8"
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
