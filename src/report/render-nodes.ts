// Renders `hive nodes`: one row per node and how hive reaches it.
import type { ChalkInstance } from "chalk";
import type { NodeSummary } from "../fleet/nodes.js";
import { renderTable } from "./table.js";

/** Narrow terminals: TAGS and ROLES are shortened first, then BUILD-ON-TARGET, USER and PORT are dropped in that order. */
export function renderNodesTable(nodes: readonly NodeSummary[], c: ChalkInstance, width: number | null = null): string {
  // The ROLES column only for fleets with an inventory.
  const withRoles = nodes.some((n) => n.roles.length > 0);
  return renderTable(
    [
      { header: "NAME" },
      { header: "HOST", min: 12 },
      { header: "PORT", drop: 3 },
      { header: "USER", drop: 2 },
      { header: "TAGS", min: 10 },
      ...(withRoles ? [{ header: "ROLES", min: 10 }] : []),
      { header: "BUILD-ON-TARGET", drop: 1 },
    ],
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
    width,
  );
}
