// Where each key of a node goes on it: pure, shared by upload, removal and the missing-key check.
import { posix } from "node:path";
import type { Node } from "../config/normalize.js";
import type { Key } from "../config/schema.js";

export type UploadAt = Key["uploadAt"];

/** A key's place and ownership on the node: everything about it except its content. */
export interface KeyPlacement {
  /** The key's name in hive.ts. */
  name: string;
  /** Directory on the node, normalized. */
  destDir: string;
  /** File name in destDir. */
  fileName: string;
  /** destDir/fileName. */
  path: string;
  user: string;
  group: string;
  /** Octal, as in hive.ts ("0600" or "600"). */
  permissions: string;
  uploadAt: UploadAt;
}

/** The node's keys in hive.ts order. */
export function keyPlacements(node: Pick<Node, "keys">): KeyPlacement[] {
  return Object.entries(node.keys).map(([name, key]) => {
    const destDir = normalizeDir(key.destDir);
    return {
      name,
      destDir,
      fileName: key.name,
      path: destDir === "/" ? `/${key.name}` : `${destDir}/${key.name}`,
      user: key.user,
      group: key.group,
      permissions: key.permissions,
      uploadAt: key.uploadAt,
    };
  });
}

/** `/run//keys/` -> `/run/keys`. */
export function normalizeDir(dir: string): string {
  const normal = posix.normalize(dir);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

/** Keys of one node that would land on the same file, as messages; empty when there are none. */
export function placementConflicts(placements: readonly KeyPlacement[]): string[] {
  const byPath = new Map<string, string[]>();
  for (const p of placements) byPath.set(p.path, [...(byPath.get(p.path) ?? []), p.name]);
  return [...byPath]
    .filter(([, names]) => names.length > 1)
    .map(([path, names]) => `keys ${names.map((n) => JSON.stringify(n)).join(" and ")} would both be written to ${path}; give one of them another name or destDir`);
}
