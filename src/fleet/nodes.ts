// What `hive nodes` reports about each selected node: its resolved deployment settings.
import { selectNodes } from "../selection/selector.js";
import type { Hive, Node } from "../config/normalize.js";

export interface NodeSummary {
  name: string;
  targetHost: string;
  targetPort: number;
  targetUser: string;
  tags: string[];
  /** Inventory roles, as `service.role`. */
  roles: string[];
  buildOnTarget: boolean;
  system: string;
  profile: string;
}

export function summarizeNode(node: Node): NodeSummary {
  return {
    name: node.name,
    targetHost: node.targetHost,
    targetPort: node.targetPort,
    targetUser: node.targetUser,
    tags: [...node.tags],
    roles: [...node.roles],
    buildOnTarget: node.buildOnTarget,
    system: node.system,
    profile: node.profile,
  };
}

/** The selected nodes (all without a selector), in hive.ts order. */
export function introspectNodes(hive: Hive, selector: string | undefined): NodeSummary[] {
  return selectNodes(hive.nodes, selector).map(summarizeNode);
}
