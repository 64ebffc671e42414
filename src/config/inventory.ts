// hive.ts `inventory` resolved against the fleet: each role's members, and each node's roles.
import { parseSelector, selectNodes } from "../selection/selector.js";
import type { Inventory } from "./schema.js";

export interface RoleMembers {
  /** The selector as hive.ts wrote it (a list joined with ','). */
  selector: string;
  /** Node names, in hive.ts order; empty when `problem` is set. */
  members: string[];
  /** Why the role has no members, for the rules to report. */
  problem?: string;
}

/** Service name to role name to its members. */
export type ResolvedInventory = Record<string, Record<string, RoleMembers>>;

/** Selects each role's members by node names and tags; roles cannot be defined by other roles. */
export function resolveInventory(inventory: Inventory, nodes: readonly { name: string; tags: readonly string[] }[]): ResolvedInventory {
  const resolved: ResolvedInventory = {};
  for (const [service, roles] of Object.entries(inventory)) {
    resolved[service] = {};
    for (const [role, members] of Object.entries(roles)) {
      const selector = [members].flat().join(",");
      resolved[service][role] = selectMembers(selector, nodes);
    }
  }
  return resolved;
}

function selectMembers(selector: string, nodes: readonly { name: string; tags: readonly string[] }[]): RoleMembers {
  try {
    const parsed = parseSelector(selector);
    const role = [...parsed.include.flatMap((t) => t.atoms), ...parsed.exclude].find((a) => a.kind === "role");
    if (role !== undefined) {
      return { selector, members: [], problem: `${JSON.stringify(role.text)}: a role's members are chosen by node names and @tags, not by other roles` };
    }
    return { selector, members: selectNodes(nodes, parsed).map((n) => n.name) };
  } catch (error) {
    const message = (error as Error).message;
    return { selector, members: [], problem: /matches no node/.test(message) ? `the role is empty: ${message}` : message };
  }
}

/** A node's roles as `service.role`, in inventory order. */
export function rolesOf(inventory: ResolvedInventory, node: string): string[] {
  return Object.entries(inventory).flatMap(([service, roles]) =>
    Object.entries(roles)
      .filter(([, role]) => role.members.includes(node))
      .map(([role]) => `${service}.${role}`),
  );
}

/** Service to role to member names: what Nix sees as `config.hive.inventory`. */
export function inventoryMembers(inventory: ResolvedInventory): Record<string, Record<string, string[]>> {
  return Object.fromEntries(
    Object.entries(inventory).map(([service, roles]) => [service, Object.fromEntries(Object.entries(roles).map(([role, r]) => [role, [...r.members]]))]),
  );
}
