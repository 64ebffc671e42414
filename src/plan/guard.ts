// The one rule for commands that change every node when no --on is given (meta.allowApplyAll).
import type { Hive } from "../config/normalize.js";
import { UsageError } from "../errors.js";

/** Throws when hive.ts forbids acting on the whole fleet and no selection was given. */
export function requireSelectionUnlessAllowed(hive: Hive, on: string | undefined, command: string): void {
  if (on !== undefined || hive.meta.allowApplyAll) return;
  throw new UsageError(
    `hive.ts sets meta.allowApplyAll = false: ${command} on every node needs an explicit selection`,
    "pass --on SELECTOR (e.g. --on @server), or set meta.allowApplyAll to true",
  );
}
