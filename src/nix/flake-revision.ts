// Which revision of the flake a deployment came from: git commit and dirty flag for local git trees.
import type { ProcessRunner } from "./runner.js";

export interface FlakeRevision {
  commit: string | null;
  dirty: boolean | null;
}

export async function readFlakeRevision(flake: string, runner: ProcessRunner): Promise<FlakeRevision> {
  if (!flake.startsWith("/")) {
    const rev = /[?&]rev=([0-9a-f]{40})/.exec(flake)?.[1];
    return { commit: rev ?? null, dirty: null };
  }
  const head = await runner.run("git", ["-C", flake, "rev-parse", "HEAD"]);
  if (head.exitCode !== 0) return { commit: null, dirty: null };
  const status = await runner.run("git", ["-C", flake, "status", "--porcelain", "--untracked-files=no"]);
  return { commit: head.stdout.trim(), dirty: status.exitCode === 0 ? status.stdout.trim() !== "" : null };
}
