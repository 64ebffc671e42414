import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HIVE, type KeySpec, ME, MY_GROUP, localHost, nodeWith } from "../../test/support/key-node.js";
import { execaRunner } from "../nix/runner.js";
import { KeyTargetError, KeyUploadError } from "./errors.js";
import { hiveRecordOf, manifestEntryFile } from "./manifest.js";
import { prepareKeys } from "./sources.js";
import { removeStaleKeys, uploadKeys } from "./upload.js";

let dir: string;
let manifestDir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-keys-safety-"));
  manifestDir = join(dir, "manifest");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mine = (spec: KeySpec & { name?: string }) => ({ user: ME, group: MY_GROUP, ...spec });

async function upload(keys: Record<string, KeySpec & { name?: string }>, hiveName = HIVE) {
  const node = nodeWith(keys, hiveName);
  return uploadKeys(localHost(node), await prepareKeys(node, execaRunner), "all", { manifestDir });
}

function remove(keys: Record<string, KeySpec & { name?: string }>, hiveName = HIVE) {
  const node = nodeWith(keys, hiveName);
  return removeStaleKeys(localHost(node), node, { manifestDir });
}

/** A file standing for one hive must never touch, with its content. */
function victim(): { path: string; intact: () => boolean } {
  const path = join(dir, "victim", "authorized_keys");
  mkdirSync(join(dir, "victim"));
  writeFileSync(path, "precious\n");
  return { path, intact: () => readFileSync(path, "utf8") === "precious\n" };
}

describe("keys: no write or removal through a path someone else could redirect", () => {
  it("refuses a destDir with a symbolic link on the way, and a key path that is one", async () => {
    const target = victim();
    symlinkSync(join(dir, "victim"), join(dir, "linked"));
    const through = await upload({ authorized_keys: mine({ text: "evil", destDir: join(dir, "linked", "sub") }) }).catch((e: unknown) => e);
    expect(through).toBeInstanceOf(KeyTargetError);
    expect((through as Error).message).toBe(
      `${join(dir, "linked")} (on the way to key authorized_keys) is a symbolic link; hive does not write or remove through symbolic links; no key was written`,
    );
    mkdirSync(join(dir, "keys"));
    symlinkSync(target.path, join(dir, "keys", "k"));
    await expect(upload({ k: mine({ text: "evil", destDir: join(dir, "keys") }) })).rejects.toThrow(`${join(dir, "keys", "k")} (key k) is a symbolic link`);
    expect(target.intact()).toBe(true);
    expect(existsSync(manifestDir)).toBe(false);
  });

  it("refuses a directory on the way that its group or others can write, unless it is sticky", async () => {
    mkdirSync(join(dir, "open"), { mode: 0o777 });
    chmodSync(join(dir, "open"), 0o777);
    await expect(upload({ k: mine({ text: "x", destDir: join(dir, "open", "keys") }) })).rejects.toThrow(
      `${join(dir, "open")} (on the way to key k) can be written by its group or others (mode 777); they could redirect what hive writes there`,
    );
    chmodSync(join(dir, "open"), 0o1777);
    expect((await upload({ k: mine({ text: "x", destDir: join(dir, "open", "keys") }) })).map((k) => k.outcome)).toEqual(["written"]);
  });

  it("removes only the file it placed: not one put in its place, nor one behind a directory turned symlink", async () => {
    const keysDir = join(dir, "keys");
    await upload({ a: mine({ text: "1", destDir: keysDir }), b: mine({ text: "2", destDir: keysDir }) });
    // a: moved aside and replaced by another file of the same name; b: its directory moved away and replaced by a link to the victim's.
    renameSync(join(keysDir, "a"), join(keysDir, "a.moved"));
    writeFileSync(join(keysDir, "a"), "someone else's\n");
    const replaced = await remove({ b: mine({ text: "2", destDir: keysDir }) }).catch((e: unknown) => e);
    expect(replaced).toBeInstanceOf(KeyUploadError);
    expect((replaced as Error).message).toMatch(/not removing .*\/keys\/a \(key a\): it is not the file hive placed there \(replaced since\)/);
    expect(readFileSync(join(keysDir, "a"), "utf8")).toBe("someone else's\n");

    const target = victim();
    writeFileSync(join(dir, "victim", "b"), "precious b\n");
    renameSync(keysDir, join(dir, "moved"));
    symlinkSync(join(dir, "victim"), keysDir);
    await expect(remove({})).rejects.toThrow(/is a symbolic link; hive does not write or remove through symbolic links/);
    expect(target.intact()).toBe(true);
    expect(readFileSync(join(dir, "victim", "b"), "utf8")).toBe("precious b\n");
    // The records stay until the files are gone; then hive forgets them.
    expect(readdirSync(join(manifestDir, hiveRecordOf(HIVE).id)).filter((f) => f.endsWith(".json"))).toHaveLength(2);
    rmSync(keysDir);
    expect((await remove({})).map((r) => r.name).sort()).toEqual(["a", "b"]);
    expect(readFileSync(join(dir, "moved", "a"), "utf8")).toBe("someone else's\n");
  });
});

describe("keys: each hive's record is its own", () => {
  it("never removes another hive's keys, refuses to write a file another hive placed, and adopts records from before hives had their own", async () => {
    const keysDir = join(dir, "keys");
    await upload({ a: mine({ text: "from A", destDir: keysDir }) }, "fleet-a");
    await upload({ b: mine({ text: "from B", destDir: keysDir }) }, "/elsewhere/hive.ts");
    // B no longer has key b, and never had a: only b goes.
    expect(await remove({}, "/elsewhere/hive.ts")).toEqual([{ name: "b", path: join(keysDir, "b") }]);
    expect(readFileSync(join(keysDir, "a"), "utf8")).toBe("from A");

    const clash = await upload({ a: mine({ text: "from B", destDir: keysDir }) }, "/elsewhere/hive.ts").catch((e: unknown) => e);
    expect(clash).toBeInstanceOf(KeyTargetError);
    expect((clash as Error).message).toBe(
      `${join(keysDir, "a")} (key a) is a key of another hive (fleet-a); two hives writing one file would undo each other: keep the key in one of them, or give both hive.ts the same meta.name; no key was written`,
    );
    expect(readFileSync(join(keysDir, "a"), "utf8")).toBe("from A");

    // A record in the old layout (one directory for the node) is never used to remove anything...
    const legacy = join(manifestDir, manifestEntryFile(join(keysDir, "old")));
    writeFileSync(join(keysDir, "old"), "placed long ago");
    writeFileSync(legacy, JSON.stringify({ key: "old", path: join(keysDir, "old") }));
    expect(await remove({ a: mine({ text: "from A", destDir: keysDir }) }, "fleet-a")).toEqual([]);
    expect(existsSync(join(keysDir, "old"))).toBe(true);
    // ...and a hive that places that key again takes the record over.
    await upload({ a: mine({ text: "from A", destDir: keysDir }), old: mine({ text: "new", destDir: keysDir }) }, "fleet-a");
    expect(existsSync(legacy)).toBe(false);
    expect(await remove({ a: mine({ text: "from A", destDir: keysDir }) }, "fleet-a")).toEqual([{ name: "old", path: join(keysDir, "old") }]);
  });
});
