// Nodes and keys for unit tests of key work, run on this machine with sh.
import { spawnSync } from "node:child_process";
import { userInfo } from "node:os";
import type { Node } from "../../src/config/normalize.js";
import type { NodeKey } from "../../src/config/node-key.js";
import type { KeyHost } from "../../src/keys/upload.js";
import { localShell } from "./local-shell.js";

export const ME = userInfo().username;
export const MY_GROUP = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
export const HIVE = "/fleet/hive.ts";

export type KeySpec = Partial<NodeKey>;

export function key(spec: KeySpec & { name?: string }): NodeKey {
  return { destDir: "/run/keys", user: "root", group: "root", permissions: "0600", uploadAt: "pre-activation", name: "", ...spec };
}

export function nodeWith(keys: Record<string, KeySpec & { name?: string }>, hiveName = HIVE): Pick<Node, "name" | "keys" | "hiveName"> {
  return { name: "n1", hiveName, keys: Object.fromEntries(Object.entries(keys).map(([k, spec]) => [k, key({ name: k, ...spec })])) };
}

/** A node for key work whose scripts run on this machine with sh (see localShell). */
export function localHost(node: Pick<Node, "name" | "keys" | "hiveName">, transform?: (stdin: Buffer) => Buffer): KeyHost & { scripts: string[]; stdins: Buffer[] } {
  const shell = localShell(transform ? { transform } : {});
  return { node: node as Node, scripts: shell.scripts, stdins: shell.stdins, runAsRoot: shell.runAsRoot };
}
