// The shell scripts hive runs on a node (as root) to read its state and to activate a system.
import { quoteShellArg as q } from "../ssh/quote.js";
import type { Goal } from "../plan/goal.js";

/** Where hive keeps a deployment record per generation it creates (persistent, beside the profiles). */
export const RECORDS_DIR = "/nix/var/hive/deployments";

/** Exit code of the activation script when the profile could not be set (nothing changed). */
export const EXIT_PROFILE_FAILED = 111;

export interface NodeState {
  /** What the node runs: /run/current-system resolved. */
  current: string | null;
  /** What the profile names. */
  profile: string | null;
  generation: number | null;
  /** What the node booted: /run/booted-system resolved. */
  booted: string | null;
}

/** Prints `key=value` lines that `parseNodeState` reads. */
export function stateProbeScript(profile: string): string {
  return [
    `echo "current=$(readlink -f /run/current-system 2>/dev/null)"`,
    `echo "profile=$(readlink -f ${q(profile)} 2>/dev/null)"`,
    `echo "link=$(readlink ${q(profile)} 2>/dev/null)"`,
    `echo "booted=$(readlink -f /run/booted-system 2>/dev/null)"`,
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

/**
 * Set the profile (switch, boot), record the deployment (read as JSON from stdin), run
 * switch-to-configuration, and when that fails set the profile back unless the node now runs the
 * new system: the profile never names a system the node does not run.
 */
export function activationScript(options: { profile: string; outPath: string; goal: Goal }): string {
  const setsProfile = options.goal === "switch" || options.goal === "boot";
  return `set -u
# A dropped connection or Ctrl-C on the deployer must not stop activation half-way.
trap "" HUP PIPE INT
profile=${q(options.profile)}
out=${q(options.outPath)}
goal=${q(options.goal)}
records=${q(RECORDS_DIR)}
prev=$(readlink "$profile" 2>/dev/null || true)
${
  setsProfile
    ? `nix-env -p "$profile" --set "$out" || { echo "hive: could not set profile $profile to $out" >&2; exit ${EXIT_PROFILE_FAILED}; }
link=$(readlink "$profile")
gen=$(echo "$link" | sed -n 's/.*-\\([0-9][0-9]*\\)-link$/\\1/p')
mkdir -p "$records" && cat > "$records/$(basename "$profile")-$gen.json"
echo "hive: profile $profile is generation $gen"`
    : "cat > /dev/null"
}
"$out/bin/switch-to-configuration" "$goal"
rc=$?
${
  setsProfile
    ? `if [ "$rc" -ne 0 ]; then
  running=$(readlink -f /run/current-system 2>/dev/null || true)
  if [ "$goal" = boot ] || [ "$running" != "$out" ]; then
    prevgen=$(echo "$prev" | sed -n 's/.*-\\([0-9][0-9]*\\)-link$/\\1/p')
    if [ -n "$prevgen" ]; then
      nix-env -p "$profile" --switch-generation "$prevgen" >&2 && echo "hive: profile set back to generation $prevgen" >&2
    else
      rm -f "$profile" && echo "hive: first deployment failed; profile $profile removed" >&2
    fi
  fi
fi`
    : ""
}
exit "$rc"
`;
}

/** Units NixOS names when switch-to-configuration exits 4. */
export function parseFailedUnits(output: string): string[] {
  const match = /the following units failed: (.+)/.exec(output);
  return match ? match[1]!.split(/[,\s]+/).filter((u) => u !== "") : [];
}
