// hive's record of a deployment, kept on the node beside the generation it made.
import type { Goal } from "../plan/goal.js";

/** Where hive keeps a deployment record per generation it creates (persistent, beside the profiles). */
export const RECORDS_DIR = "/nix/var/hive/deployments";

export interface DeploymentRecord {
  system: string;
  goal: Goal | "rollback";
  deployedAt: string;
  deployedBy: string;
  hiveFile: string;
  flake: string;
  flakeRevision: string | null;
  flakeDirty: boolean | null;
  hiveVersion: string;
}
