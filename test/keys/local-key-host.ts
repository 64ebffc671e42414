// Runs the key scripts on this machine with sh, as a node would: the Host for key unit tests.
import { spawn, spawnSync } from "node:child_process";
import { userInfo } from "node:os";
import type { Readable } from "node:stream";
import type { Node } from "../../src/config/normalize.js";
import type { Key } from "../../src/config/schema.js";
import type { CommandResult } from "../../src/host/host.js";
import type { KeyHost } from "../../src/keys/upload.js";

export const ME = userInfo().username;
export const MY_GROUP = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
export const HIVE = "/fleet/hive.ts";

export type KeySpec = Partial<Key> & Pick<Key, never>;

export function key(spec: KeySpec & { name?: string }): Key & { name: string } {
  return { destDir: "/run/keys", user: "root", group: "root", permissions: "0600", uploadAt: "pre-activation", name: "", ...spec } as Key & { name: string };
}

export function nodeWith(keys: Record<string, KeySpec & { name?: string }>, hiveName = HIVE): Pick<Node, "name" | "keys" | "hiveName"> {
  return { name: "n1", hiveName, keys: Object.fromEntries(Object.entries(keys).map(([k, spec]) => [k, key({ name: k, ...spec })])) };
}

/** Runs the node scripts on this machine with sh, as a node would as root. */
export function localHost(node: Pick<Node, "name" | "keys" | "hiveName">, transform?: (stdin: Buffer) => Buffer): KeyHost & { scripts: string[]; stdins: Buffer[] } {
  const scripts: string[] = [];
  const stdins: Buffer[] = [];
  return {
    node: node as Node,
    scripts,
    stdins,
    async runAsRoot(script, options = {}) {
      scripts.push(script);
      let input: Buffer = Buffer.alloc(0);
      if (options.stdin !== undefined) {
        const chunks: Buffer[] = [];
        if (typeof options.stdin === "string") chunks.push(Buffer.from(options.stdin));
        else for await (const chunk of options.stdin as Readable) chunks.push(Buffer.from(chunk as Buffer));
        input = Buffer.concat(chunks);
      }
      stdins.push(input);
      if (transform) input = transform(input);
      return new Promise<CommandResult>((resolve) => {
        const child = spawn("sh", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.stdin.on("error", () => {});
        child.stdin.end(input);
        child.on("close", (code) => resolve({ exitCode: code, stdout, stderr, timedOut: false }));
      });
    },
  };
}

