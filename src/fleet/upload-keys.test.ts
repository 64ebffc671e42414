import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Hive, Node } from "../config/normalize.js";
import type { Key } from "../config/schema.js";
import type { HiveEvent } from "../events.js";
import { execaRunner } from "../nix/runner.js";
import type { RunContext } from "../run-context.js";
import { fakeHost } from "../../test/support/fake-host.js";
import { localShell } from "../../test/support/local-shell.js";
import { uploadKeysToNodes } from "./upload-keys.js";

const ME = userInfo().username;
const MY_GROUP = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), "hive-upload-keys-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function node(name: string, keys: Record<string, Partial<Key>>): Node {
  const full = Object.fromEntries(
    Object.entries(keys).map(([k, spec]) => [k, { destDir: join(dir, "keys", name), user: ME, group: MY_GROUP, permissions: "0600", uploadAt: "pre-activation", name: k, ...spec }]),
  );
  return { name, keys: full } as unknown as Node;
}

function context(contacted: string[], events: HiveEvent[], aborted = false): RunContext {
  const abort = new AbortController();
  if (aborted) abort.abort();
  return {
    hive: { dir, file: join(dir, "hive.ts"), nodes: [], meta: {}, warnings: [] } as unknown as Hive,
    runner: execaRunner,
    hostFor: (n) => {
      contacted.push(n.name);
      const shell = localShell();
      return fakeHost(n, {
        ...shell,
        lock: async () => ({ stale: null, state: { current: null, profile: null, profileGeneration: null, booted: null }, keysManifest: undefined, token: "t", lost: () => false, release: async () => {} }),
      });
    },
    reporter: { emit: (e) => void events.push(e) },
    signal: abort.signal,
    now: Date.now,
    deployer: { name: "t@x", pid: 1, startedAt: "" },
    hiveVersion: "0",
    cacheDir: join(dir, "cache"),
  };
}

it("gives each node its own result; a failing source never reaches its node", async () => {
  const ok = node("ok", { a: { text: "1" } });
  const broken = node("broken", { a: { command: ["false"] } });
  const contacted: string[] = [];
  const events: HiveEvent[] = [];
  const options = { parallel: 2, forceUnlock: false, scriptOptions: { manifestDir: join(dir, "manifest") } };
  const first = await uploadKeysToNodes([ok, broken], options, context(contacted, events));
  expect(first.nodes.map((n) => [n.name, n.result, n.error?.code ?? null])).toEqual([
    ["ok", "succeeded", null],
    ["broken", "failed", "E_KEY_SOURCE"],
  ]);
  expect(first.nodes[0]!.keys).toEqual([{ name: "a", path: join(dir, "keys", "ok", "a"), outcome: "written" }]);
  expect(contacted).toEqual(["ok"]);
  expect(events.flatMap((e) => (e.code === "node.done" ? [e.node] : [])).sort()).toEqual(["broken", "ok"]);

  const second = await uploadKeysToNodes([ok], options, context([], []));
  expect(second.nodes[0]!.result).toBe("unchanged");
});

it("starts no node once interrupted", async () => {
  const contacted: string[] = [];
  const report = await uploadKeysToNodes([node("n", {})], { parallel: 1, forceUnlock: false }, context(contacted, [], true));
  expect(report).toMatchObject({ interrupted: true, nodes: [{ name: "n", result: "skipped" }] });
  expect(contacted).toEqual([]);
});
