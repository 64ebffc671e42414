// Plans `hive rollback`, purely: which nodes go back to which generation, with which safety settings.
import type { Hive, Node } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import { selectNodes } from "../selection/selector.js";
import { requireSelectionUnlessAllowed } from "./guard.js";

export interface RollbackOptions {
  on?: string;
  /** Generation to return to; default the one before the profile's current generation. */
  to?: number;
  parallel?: number;
  rollback?: boolean;
  magicRollback?: boolean;
  forceUnlock?: boolean;
}

export interface RollbackPlan {
  nodes: { name: string; node: Node; rollback: boolean; decisionWindow: number }[];
  to: number | null;
  parallel: number;
  forceUnlock: boolean;
}

export function planRollback(hive: Hive, options: RollbackOptions): RollbackPlan {
  requireSelectionUnlessAllowed(hive, options.on, "hive rollback");
  if (options.to !== undefined && (!Number.isInteger(options.to) || options.to < 1)) {
    throw new UsageError(`--to must be a generation number, got ${options.to}`);
  }
  return {
    nodes: selectNodes(hive.nodes, options.on).map((node) => {
      const checks = Object.values(node.healthChecks);
      const checksWindow = checks.length > 0 ? Math.max(...checks.map((c) => c.deadline)) : 0;
      return {
        name: node.name,
        node,
        rollback: options.rollback !== false && node.rollback,
        decisionWindow: options.magicRollback !== false && node.magicRollback ? node.confirmTimeout + checksWindow : 0,
      };
    }),
    to: options.to ?? null,
    parallel: options.parallel ?? hive.meta.parallel,
    forceUnlock: options.forceUnlock === true,
  };
}
