// Nix's own error messages, kept whole and said once: what hive shows when Nix fails.
import { stripVTControlCharacters } from "node:util";

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

/** Nix's own warning lines worth showing (not hive's traces, not the dirty-tree notice hive records itself). */
export function warningOf(line: string): string | null {
  // nixpkgs' lib.warn colours its word on older Nix: `trace: \e[1;35mevaluation warning:\e[0m ...`.
  const plain = stripVTControlCharacters(line);
  const match = /^(?:trace: )?(?:evaluation )?warning: (.*)$/.exec(plain);
  if (!match) return null;
  if (/^Git tree '.*' is dirty$/.test(match[1]!) || /^unknown setting/.test(match[1]!)) return null;
  return match[1]!;
}

/**
 * The message of a Nix error, as one line: its text with the location, without the code excerpt,
 * the trace (kept whole in the node's log) or the `--show-trace` advice. Store paths of the flake's
 * source are shown as the files they were copied from.
 */
export function summarizeNixError(stderr: string, sourceRoot: string | null = null): string {
  const lines = stderr.split("\n");
  const start = lines.findIndex((l) => l.startsWith("error:"));
  if (start === -1) return lines.filter((l) => l.trim() !== "").at(-1)?.trim() ?? "";
  const parts: string[] = [];
  for (const line of lines.slice(start)) {
    const text = line.replace(/^error:/, "").trim();
    if (parts.length > 0 && (line.startsWith("error:") || /^[^\s]/.test(line))) break; // the next message
    if (text === "" || /^\d*\s*\|/.test(text) || text.startsWith("(use '--show-trace'")) continue;
    if (text.startsWith("… ")) break; // the trace
    parts.push(text.replace(/^at (.*):$/, "at $1"));
    if (parts.length >= 4) break;
  }
  const summary = parts.join(" ").replace(/\s+/g, " ");
  const mapped = sourceRoot === null ? summary : summary.replace(/\/nix\/store\/[0-9a-z]{32}-source(?=\/|\b)/g, sourceRoot);
  return mapped.length > 400 ? `${mapped.slice(0, 399)}…` : mapped;
}
