// Asks a node which store paths of a closure it lacks, after letting it substitute what it can.
// Derivations (.drv files, pushed for building on the node) are only checked, never realised:
// realising a .drv would build it.

export interface MissingPathsQuery {
  /** Run as root on the node, with `input` on stdin. */
  script: string;
  input: string;
  /** The paths to send, from the script's output. */
  lacking(stdout: string): Set<string>;
}

/**
 * One Nix process when the node has everything; otherwise `nix-store --realise --ignore-unknown`
 * substitutes what the node's substituters have. It prints nothing, but when it succeeds every
 * path it could get is in place, so a path absent before and present after is one it got.
 * Only when a substitution failed does a second validity check say what is still missing.
 */
export function missingPathsQuery(paths: readonly string[], substitute: boolean): MissingPathsQuery {
  const lines = [
    "set -f",
    "invalid=$(xargs nix-store --check-validity --print-invalid) || exit 1",
    "echo hive-invalid",
    `printf '%s\\n' $invalid`,
  ];
  if (substitute) {
    lines.push(
      "outs=; absent=",
      `for p in $invalid; do case $p in *.drv) ;; *) outs="$outs $p"; { [ -e "$p" ] || [ -L "$p" ]; } || absent="$absent $p" ;; esac; done`,
      `[ -n "$outs" ] || exit 0`,
      `if printf '%s\\n' $outs | xargs nix-store --realise --ignore-unknown > /dev/null 2>&1; then`,
      `  echo hive-substituted`,
      `  for p in $absent; do { [ -e "$p" ] || [ -L "$p" ]; } && echo "$p"; done`,
      // When even this check fails, everything first found invalid is sent.
      `elif still=$(printf '%s\\n' $outs | xargs nix-store --check-validity --print-invalid 2>/dev/null); then`,
      `  echo hive-still-invalid; printf '%s\\n' $still`,
      "fi",
      "exit 0",
    );
  }
  return { script: lines.join("\n"), input: `${paths.join("\n")}\n`, lacking: lackingPaths };
}

/**
 * `hive-invalid` lists what the node lacked; `hive-substituted`, what it then got; and
 * `hive-still-invalid`, after a partial substitution, which of the non-derivations it still lacks.
 */
export function lackingPaths(stdout: string): Set<string> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (/^hive-[a-z-]+$/.test(line)) sections.set(line, (current = []));
    else if (line.startsWith("/") && current !== undefined) current.push(line);
  }
  const lacking = new Set(sections.get("hive-invalid") ?? []);
  for (const path of sections.get("hive-substituted") ?? []) lacking.delete(path);
  const still = sections.get("hive-still-invalid");
  if (still !== undefined) {
    const missing = new Set(still);
    for (const path of lacking) if (!path.endsWith(".drv") && !missing.has(path)) lacking.delete(path);
  }
  return lacking;
}
