// Nix's own error messages, kept whole and said once: what hive shows when Nix fails.

/** Nix's error without the noise: drop warnings and blank lines, keep at most `maxLines` lines. */
export function trimNixError(stderr: string, maxLines = 20): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trimEnd())
    // Drop warnings, and the excerpt of hive's own generated expression that Nix quotes.
    .filter((l) => l !== "" && !/^warning: (Git tree .* is dirty|unknown setting)/.test(l))
    .filter((l) => !/^\s+at «string»/.test(l) && !/^\s+\d*\|/.test(l));
  const start = lines.findIndex((l) => l.startsWith("error"));
  const relevant = start === -1 ? lines : lines.slice(start);
  return relevant.slice(0, maxLines).join("\n");
}
