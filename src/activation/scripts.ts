// The shell scripts hive runs on a node (as root) to read its state and to activate a system.
import { quoteShellArg as q } from "../ssh/quote.js";

/** Where hive keeps a deployment record per generation it creates (persistent, beside the profiles). */
export const RECORDS_DIR = "/nix/var/hive/deployments";

export interface NodeState {
  /** What the node runs: /run/current-system resolved. */
  current: string | null;
  /** What the profile names. */
  profile: string | null;
  generation: number | null;
  /** What the node booted: /run/booted-system resolved. */
  booted: string | null;
}

/**
 * Prints `key=value` lines that `parseNodeState` reads. Two processes: one `readlink -f` for
 * whichever of the three links exist (readlink -f names even a path that does not exist, so only
 * what exists is asked about), and one `readlink` for the profile's generation link.
 */
export function stateProbeScript(profile: string): string {
  return [
    "set --; keys=",
    ...[
      ["current", "/run/current-system"],
      ["profile", profile],
      ["booted", "/run/booted-system"],
    ].map(([key, path]) => `[ -e ${q(path!)} ] && { set -- "$@" ${q(path!)}; keys="$keys ${key}"; }`),
    `if [ $# -gt 0 ]; then`,
    `  resolved=$(readlink -f "$@" 2>/dev/null)`,
    // Store paths hold no blanks or wildcards: the resolved paths split into words safely.
    `  set -f; set -- $resolved; set +f`,
    `  for key in $keys; do [ $# -gt 0 ] && { echo "$key=$1"; shift; }; done`,
    "fi",
    `echo "link=$(readlink ${q(profile)} 2>/dev/null)"`,
  ].join("\n");
}

export function parseNodeState(stdout: string): NodeState {
  const values = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const value = (key: string) => {
    const v = values.get(key);
    return v === undefined || v === "" ? null : v;
  };
  return { current: value("current"), profile: value("profile"), generation: generationOfLink(value("link")), booted: value("booted") };
}

/** `system-42-link` -> 42. */
export function generationOfLink(link: string | null): number | null {
  const match = link === null ? null : /-(\d+)-link$/.exec(link);
  return match ? Number(match[1]) : null;
}

/** Units NixOS names when switch-to-configuration exits 4. */
export function parseFailedUnits(output: string): string[] {
  const match = /the following units failed: (.+)/.exec(output);
  return match ? match[1]!.split(/[,\s]+/).filter((u) => u !== "") : [];
}
