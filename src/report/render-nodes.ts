// Renders `hive nodes`: one row per node and how hive reaches it.
import type { ChalkInstance } from "chalk";
import type { NodeSummary } from "../fleet/nodes.js";
import { renderTable } from "./table.js";

export function renderNodesTable(nodes: readonly NodeSummary[], c: ChalkInstance): string {
  // The ROLES column only for fleets with an inventory.
  const withRoles = nodes.some((n) => n.roles.length > 0);
  return renderTable(
    ["NAME", "HOST", "PORT", "USER", "TAGS", ...(withRoles ? ["ROLES"] : []), "BUILD-ON-TARGET"],
    nodes.map((n) => [
      c.bold(n.name),
      n.targetHost,
      n.targetPort,
      n.targetUser,
      n.tags.map((t) => `@${t}`).join(" "),
      ...(withRoles ? [n.roles.map((r) => `%${r}`).join(" ")] : []),
      n.buildOnTarget ? "yes" : "no",
    ]),
    (h) => c.dim(h),
  );
}
