// What one node's configuration sees as `config.hive.data`: pure, computed from hive.ts and the public vars.
import { inventoryMembers } from "../config/inventory.js";
import type { Hive, Node } from "../config/normalize.js";
import { keyPlacements } from "../keys/placement.js";
import type { FleetNode, InjectedData } from "../nix/eval-data.js";
import { type PublicVarValues, type PublicVarsByNode, readPublicVars } from "../vars/store.js";

/** One node as every node sees it, with its public vars. */
export type NodeFacts = FleetNode<PublicVarValues>;

export interface KeyFacts {
  name: string;
  destDir: string;
  path: string;
  user: string;
  group: string;
  permissions: string;
  uploadAt: string;
}

/** `config.hive.data` of one node; the module (nix/hive-module.nix) turns it into `config.hive`. */
export interface NodeData extends NodeFacts {
  nodes: Record<string, NodeFacts>;
  /** The node's keys: their place on it, never their content. */
  keys: Record<string, KeyFacts>;
  inventory: Record<string, Record<string, string[]>>;
}

/** The facts of every node, shared by all nodes' data: compute once per evaluation. */
export function fleetFacts(hive: Pick<Hive, "nodes">, publicVars: PublicVarsByNode): Record<string, NodeFacts> {
  return Object.fromEntries(hive.nodes.map((node) => [node.name, nodeFacts(node, publicVars.get(node.name) ?? {})]));
}

/** The data of one node. Pass `facts` from fleetFacts when computing it for many nodes. */
export function buildNodeData(
  hive: Pick<Hive, "nodes" | "inventory">,
  node: Node,
  publicVars: PublicVarsByNode,
  facts: Record<string, NodeFacts> = fleetFacts(hive, publicVars),
): NodeData {
  const keys = Object.fromEntries(
    keyPlacements(node).map((k) => [
      k.name,
      { name: k.fileName, destDir: k.destDir, path: k.path, user: k.user, group: k.group, permissions: k.permissions, uploadAt: k.uploadAt },
    ]),
  );
  return { ...facts[node.name]!, nodes: facts, keys, inventory: inventoryMembers(hive.inventory) };
}

function nodeFacts(node: Node, vars: PublicVarValues): NodeFacts {
  return {
    name: node.name,
    tags: [...node.tags],
    // sshAlias is exactly hive.ts's targetHost, else the node name.
    targetHost: node.sshAlias,
    targetPort: node.declared.targetPort ?? null,
    targetUser: node.declared.targetUser ?? null,
    roles: [...node.roles],
    vars,
  };
}

/** Every node's `config.hive`, in the form the evaluator carries it: the fleet's part once, each node's keys apart. */
export async function injectedNodeData(hive: Pick<Hive, "nodes" | "inventory" | "vars">): Promise<InjectedData> {
  const facts = fleetFacts(hive, await readPublicVars(hive));
  return {
    nodes: facts,
    inventory: inventoryMembers(hive.inventory),
    keys: new Map(hive.nodes.map((node) => [node.name, buildNodeData(hive, node, new Map(), facts).keys])),
  };
}
