// What hive adds to each node's evaluation (`config.hive`), as the evaluator carries it: the fleet's
// part once per evaluator process, compactly (tags and roles by index), and each node's own part
// (its keys) with its request, so a process's expression stays far below one argument's 128 KiB.
import { createHash } from "node:crypto";

/** One node as every node sees it: only what hive.ts declares (nothing from ~/.ssh/config, which differs between operators). */
export interface FleetNode<Vars = unknown> {
  name: string;
  tags: string[];
  /** hive.ts's targetHost, else the node's name. */
  targetHost: string;
  targetPort: number | null;
  targetUser: string | null;
  /** `service.role`. */
  roles: string[];
  vars: Vars;
}

export interface InjectedData {
  /** Every node's facts, by name, and the inventory's members. */
  nodes: Record<string, FleetNode>;
  inventory: unknown;
  /** Each node's own keys (placement, never content). */
  keys: ReadonlyMap<string, unknown>;
}

/** The fleet part as compact JSON: `{ t: tags, r: roles, n: rows, i: inventory }`. */
export function encodeFleet(data: InjectedData): string {
  const tags = new Map<string, number>();
  const roles = new Map<string, number>();
  const index = (table: Map<string, number>, value: string) => {
    if (!table.has(value)) table.set(value, table.size);
    return table.get(value)!;
  };
  const rows = Object.values(data.nodes).map((n) => [
    n.name,
    n.tags.map((t) => index(tags, t)),
    n.targetHost,
    n.targetPort,
    n.targetUser,
    n.roles.map((r) => index(roles, r)),
    n.vars,
  ]);
  return JSON.stringify({ t: [...tags.keys()], r: [...roles.keys()], n: rows, i: data.inventory });
}

/** The Nix expression that turns encodeFleet's JSON (bound as `fleetRaw`) back into `{ nodes; inventory; }`. */
export const DECODE_FLEET = `let
    at = builtins.elemAt;
    decode = row: {
      name = at row 0;
      tags = map (at fleetRaw.t) (at row 1);
      targetHost = at row 2;
      targetPort = at row 3;
      targetUser = at row 4;
      roles = map (at fleetRaw.r) (at row 5);
      vars = at row 6;
    };
  in { nodes = builtins.listToAttrs (map (row: { name = at row 0; value = decode row; }) fleetRaw.n); inventory = fleetRaw.i; }`;

/** What of the injected data a node's evaluation depends on, for its cache key. */
export function injectedKey(encodedFleet: string, keys: unknown): string {
  return createHash("sha256").update(encodedFleet).update("\0").update(JSON.stringify(keys ?? null)).digest("hex");
}
