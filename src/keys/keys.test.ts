import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ByteRunner, execaRunner } from "../nix/runner.js";
import { KeyConflictError, KeySourceError, KeyTargetError, KeyUploadError } from "./errors.js";
import { keyPlacements, normalizeDir, placementConflicts } from "./placement.js";
import { HIVE, type KeySpec, ME, MY_GROUP, localHost, nodeWith } from "../../test/support/key-node.js";
import { hiveRecordOf, manifestEntryFile, parseInspectOutput, parseManifestListing } from "./manifest.js";
import { uploadScript } from "./scripts.js";
import { Secret } from "./secret.js";
import { prepareKeys, wipePreparedKeys } from "./sources.js";
import { inspectKeys, missingKeys, removeStaleKeys, uploadKeys } from "./upload.js";

const SECRET = "first line of a secret\n  second: 'quoted' \"and\" $dollar `tick`\n\u00e9t\u00e9 \u2603\n";
/** The directory of this hive's records in the manifest. */
const hiveRecords = () => join(manifestDir, hiveRecordOf(HIVE).id);

let dir: string;
let manifestDir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-keys-unit-"));
  manifestDir = join(dir, "manifest");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("Secret", () => {
  it("shows as [secret] in strings, JSON and inspection, and can be wiped", () => {
    const secret = new Secret(Buffer.from("hunter2"));
    expect(String(secret)).toBe("[secret]");
    expect(JSON.stringify({ secret })).toBe('{"secret":"[secret]"}');
    expect(inspect({ secret })).not.toContain("hunter2");
    expect(inspect({ secret })).not.toContain("104"); // nor its bytes
    expect(secret.bytes().toString()).toBe("hunter2");
    secret.wipe();
    expect([...secret.bytes()]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("placements", () => {
  it("normalizes destDir and joins the file name", () => {
    const [p] = keyPlacements(nodeWith({ db: { text: "x", destDir: "/run//keys/", name: "db.env" } }));
    expect(p).toMatchObject({ name: "db", destDir: "/run/keys", path: "/run/keys/db.env" });
    expect(normalizeDir("/")).toBe("/");
    expect(keyPlacements(nodeWith({ k: { text: "x", destDir: "/" } }))[0]!.path).toBe("/k");
  });

  it("finds keys that would land on the same file", () => {
    const conflicts = placementConflicts(keyPlacements(nodeWith({ a: { text: "x", name: "same" }, b: { text: "y", name: "same" }, c: { text: "z" } })));
    expect(conflicts).toEqual(['keys "a" and "b" would both be written to /run/keys/same; give one of them another name or destDir']);
  });
});

describe("prepareKeys", () => {
  it("reads text, file and command sources as bytes, commands in the given cwd", async () => {
    writeFileSync(join(dir, "secret.bin"), Buffer.from([0, 255, 10, 1]));
    writeFileSync(join(dir, "print.sh"), "printf 'from\\377command'\n");
    const node = nodeWith({
      t: { text: SECRET },
      f: { file: join(dir, "secret.bin") },
      c: { command: ["sh", "./print.sh"] },
    });
    const prepared = await prepareKeys(node, execaRunner, { cwd: dir });
    expect(prepared.keys.map((k) => k.name)).toEqual(["t", "f", "c"]);
    expect(prepared.keys[0]!.secret.bytes().toString("utf8")).toBe(SECRET);
    expect([...prepared.keys[1]!.secret.bytes()]).toEqual([0, 255, 10, 1]);
    expect(prepared.keys[2]!.secret.bytes()).toEqual(Buffer.concat([Buffer.from("from"), Buffer.from([0xff]), Buffer.from("command")]));
    expect(JSON.stringify(prepared)).not.toContain("command\"");
    wipePreparedKeys(prepared);
    expect(prepared.keys.every((k) => k.secret.bytes().every((b) => b === 0))).toBe(true);
  });

  it("fails with every failing source named, and wipes what it had read", async () => {
    const read: Buffer[] = [];
    const runner: ByteRunner = {
      async runForBytes(file, args) {
        if (file === "good") {
          const bytes = Buffer.from("good secret");
          read.push(bytes);
          return { command: file, exitCode: 0, stdout: bytes, stderr: "" };
        }
        return { command: [file, ...args].join(" "), exitCode: 3, stdout: Buffer.from("partial"), stderr: "warming up\nvault: permission denied\n" };
      },
    };
    const node = nodeWith({ ok: { command: ["good"] }, bad: { command: ["vault", "read", "x y"] }, gone: { file: join(dir, "nope") } });
    const error = await prepareKeys(node, runner).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeySourceError);
    expect((error as KeySourceError).code).toBe("E_KEY_SOURCE");
    expect((error as Error).message).toBe(
      `key bad: command vault read 'x y' exited 3: vault: permission denied (and 1 more: key gone: file ${join(dir, "nope")} does not exist); nothing was changed on the node`,
    );
    expect((error as KeySourceError).log).toContain("warming up");
    expect(read[0]!.every((b) => b === 0)).toBe(true);
  });

  it("says when a command cannot start, or a file is a directory", async () => {
    await expect(prepareKeys(nodeWith({ c: { command: ["/nonexistent/pass", "show"] } }), execaRunner)).rejects.toThrow(
      /^key c: command \/nonexistent\/pass show could not start: spawn \/nonexistent\/pass ENOENT/,
    );
    await expect(prepareKeys(nodeWith({ d: { file: dir } }), execaRunner)).rejects.toThrow(`key d: file ${dir} is a directory`);
  });

  it("refuses two keys for one file before reading any source", async () => {
    const runner: ByteRunner = { runForBytes: () => Promise.reject(new Error("must not run")) };
    await expect(prepareKeys(nodeWith({ a: { command: ["x"], name: "k" }, b: { command: ["y"], name: "k" } }), runner)).rejects.toBeInstanceOf(KeyConflictError);
  });
});

describe("uploadKeys on a node (run locally with sh)", () => {
  const keysDir = () => join(dir, "run", "keys");

  async function prepared(keys: Record<string, KeySpec & { name?: string }>) {
    const node = nodeWith(keys);
    return { node, prepared: await prepareKeys(node, execaRunner), host: localHost(node) };
  }

  it("places content, owner, group and mode; the bytes go on stdin only", async () => {
    const { host, prepared: p } = await prepared({
      db: { text: SECRET, destDir: keysDir(), user: ME, group: MY_GROUP, permissions: "0640" },
      raw: { text: "x", destDir: keysDir(), name: "raw.key", permissions: "400", user: ME, group: MY_GROUP },
    });
    const placed = await uploadKeys(host, p, "all", { manifestDir });
    expect(placed).toEqual([
      { name: "db", path: join(keysDir(), "db"), outcome: "written" },
      { name: "raw", path: join(keysDir(), "raw.key"), outcome: "written" },
    ]);
    expect(readFileSync(join(keysDir(), "db"), "utf8")).toBe(SECRET);
    const st = statSync(join(keysDir(), "db"));
    expect((st.mode & 0o7777).toString(8)).toBe("640");
    expect(st.uid).toBe(userInfo().uid);
    expect((statSync(join(keysDir(), "raw.key")).mode & 0o7777).toString(8)).toBe("400");
    // destDir made 0750; no temp file left behind.
    expect((statSync(keysDir()).mode & 0o7777).toString(8)).toBe("750");
    expect(readdirSync(keysDir()).sort()).toEqual(["db", "raw.key"]);
    // One script, no secret in it; the stream is size lines and the bytes.
    expect(host.scripts).toHaveLength(1);
    for (const line of SECRET.split("\n").filter((l) => l.length > 3)) expect(host.scripts[0]).not.toContain(line);
    expect(host.stdins[0]!.toString()).toBe(`${Buffer.byteLength(SECRET)}\n${SECRET}1\nx`);
    // The manifest records paths and ownership, never content.
    const entry = JSON.parse(readFileSync(join(hiveRecords(), manifestEntryFile(join(keysDir(), "db"))), "utf8"));
    expect(entry).toMatchObject({ key: "db", path: join(keysDir(), "db"), user: ME, group: MY_GROUP, permissions: "0640", uploadAt: "pre-activation" });
    // ...and which file it placed: device, inode and owner.
    expect(entry.file).toBe(`${st.dev}:${st.ino}:${st.uid}`);
    expect(readdirSync(hiveRecords()).join(" ")).not.toContain(".tmp");
    expect(readFileSync(join(hiveRecords(), "hive"), "utf8")).toBe(`${HIVE}\n`);
  });

  it("reports unchanged keys, and rewrites a key whose content or mode changed", async () => {
    const first = await prepared({ a: { text: "one", destDir: keysDir(), user: ME, group: MY_GROUP }, b: { text: "two", destDir: keysDir(), user: ME, group: MY_GROUP } });
    await uploadKeys(first.host, first.prepared, "all", { manifestDir });
    const again = await uploadKeys(first.host, first.prepared, "all", { manifestDir });
    expect(again.map((k) => k.outcome)).toEqual(["unchanged", "unchanged"]);
    chmodSync(join(keysDir(), "b"), 0o644);
    const changed = await prepared({ a: { text: "ONE", destDir: keysDir(), user: ME, group: MY_GROUP }, b: { text: "two", destDir: keysDir(), user: ME, group: MY_GROUP } });
    expect((await uploadKeys(changed.host, changed.prepared, "all", { manifestDir })).map((k) => k.outcome)).toEqual(["written", "written"]);
    expect(readFileSync(join(keysDir(), "a"), "utf8")).toBe("ONE");
    expect((statSync(join(keysDir(), "b")).mode & 0o777).toString(8)).toBe("600");
  });

  it("uploads only the keys of the phase asked for, and makes no round trip for none", async () => {
    const { host, prepared: p } = await prepared({
      pre: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP },
      post: { text: "2", destDir: keysDir(), user: ME, group: MY_GROUP, uploadAt: "post-activation" },
    });
    expect((await uploadKeys(host, p, "post-activation", { manifestDir })).map((k) => k.name)).toEqual(["post"]);
    expect(existsSync(join(keysDir(), "pre"))).toBe(false);
    expect((await uploadKeys(host, p, "pre-activation", { manifestDir })).map((k) => k.name)).toEqual(["pre"]);
    const none = await prepared({ only: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP } });
    expect(await uploadKeys(none.host, none.prepared, "post-activation", { manifestDir })).toEqual([]);
    expect(none.host.scripts).toHaveLength(0);
  });

  it("refuses an unknown user or group before writing anything", async () => {
    const { host, prepared: p } = await prepared({
      a: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP },
      b: { text: "2", destDir: keysDir(), user: "no-such-user-hive", group: MY_GROUP },
    });
    const error = await uploadKeys(host, p, "all", { manifestDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyTargetError);
    expect((error as Error).message).toBe('user "no-such-user-hive" of key b does not exist on the node; no key was written');
    expect(existsSync(keysDir())).toBe(false);
    expect(existsSync(manifestDir)).toBe(false);

    const group = await prepared({ g: { text: "1", destDir: keysDir(), user: ME, group: "no-such-group-hive" } });
    await expect(uploadKeys(group.host, group.prepared, "all", { manifestDir })).rejects.toThrow('group "no-such-group-hive" of key g does not exist on the node');
  });

  it("refuses a destDir that is a file, and a key path that is a directory", async () => {
    writeFileSync(join(dir, "file"), "");
    const onFile = await prepared({ a: { text: "1", destDir: join(dir, "file"), user: ME, group: MY_GROUP } });
    await expect(uploadKeys(onFile.host, onFile.prepared, "all", { manifestDir })).rejects.toThrow(/exists and is not a directory; no key was written$/);
    mkdirSync(join(keysDir(), "a"), { recursive: true });
    const onDir = await prepared({ a: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP } });
    await expect(uploadKeys(onDir.host, onDir.prepared, "all", { manifestDir })).rejects.toThrow(`${join(keysDir(), "a")} (key a) exists and is not a regular file`);
  });

  it("fails without a partial key when the stream ends early", async () => {
    const node = nodeWith({ a: { text: "complete", destDir: keysDir(), user: ME, group: MY_GROUP }, b: { text: "truncated", destDir: keysDir(), user: ME, group: MY_GROUP } });
    const p = await prepareKeys(node, execaRunner);
    const host = localHost(node, (stdin) => stdin.subarray(0, stdin.length - 3));
    const error = await uploadKeys(host, p, "all", { manifestDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUploadError);
    expect((error as Error).message).toBe(`uploading keys failed: received 6 of 9 bytes for ${join(keysDir(), "b")} (connection lost?); placed before the failure: a`);
    expect(readdirSync(keysDir())).toEqual(["a"]);
  });
});

describe("lifecycle: stale keys and missing keys", () => {
  const keysDir = () => join(dir, "run", "keys");

  it("removes the keys hive.ts no longer has, and only those", async () => {
    const keys = { a: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP }, b: { text: "2", destDir: keysDir(), user: ME, group: MY_GROUP } };
    const before = nodeWith(keys);
    await uploadKeys(localHost(before), await prepareKeys(before, execaRunner), "all", { manifestDir });
    writeFileSync(join(keysDir(), "not-hives"), "x");
    const after = nodeWith({ a: keys.a });
    const host = localHost(after);
    expect(await removeStaleKeys(host, after, { manifestDir })).toEqual([{ name: "b", path: join(keysDir(), "b") }]);
    expect(readdirSync(keysDir()).sort()).toEqual(["a", "not-hives"]);
    expect(readdirSync(hiveRecords()).sort()).toEqual([manifestEntryFile(join(keysDir(), "a")), "hive"]);
    expect(await removeStaleKeys(host, after, { manifestDir })).toEqual([]);
    expect(host.scripts).toHaveLength(3); // list + remove, then list only
  });

  it("reports keys that are missing, whether hive had placed them, and stale ones", async () => {
    const node = nodeWith({
      placed: { text: "1", destDir: keysDir(), user: ME, group: MY_GROUP },
      never: { text: "2", destDir: keysDir(), user: ME, group: MY_GROUP, uploadAt: "post-activation" },
      old: { text: "3", destDir: keysDir(), user: ME, group: MY_GROUP },
    });
    const host = localHost(node);
    await uploadKeys(host, await prepareKeys(node, execaRunner), "pre-activation", { manifestDir });
    rmSync(keysDir(), { recursive: true }); // a reboot empties /run/keys
    const current = nodeWith({ placed: node.keys["placed"]!, never: node.keys["never"]! });
    expect(await missingKeys(host, current, { manifestDir })).toEqual([
      { name: "placed", path: join(keysDir(), "placed"), uploadAt: "pre-activation", placedBefore: true },
      { name: "never", path: join(keysDir(), "never"), uploadAt: "post-activation", placedBefore: false },
    ]);
    const inspection = await inspectKeys(host, current, { manifestDir });
    expect(inspection.present).toEqual([]);
    expect(inspection.stale).toEqual([{ name: "old", path: join(keysDir(), "old") }]);
  });
});

describe("script output parsing", () => {
  it("reads listings and inspections, skipping what does not parse", () => {
    expect(parseManifestListing('h1\ta.json\t{"key":"k","path":"/p"}\n-\tc.json\t{"key":"old","path":"/o"}\nh1\tb.json\tnot json\n\n')).toEqual({
      entries: [
        { hive: "h1", file: "a.json", entry: { key: "k", path: "/p" } },
        { hive: null, file: "c.json", entry: { key: "old", path: "/o" } },
      ],
      unreadable: ["b.json"],
    });
    expect(parseInspectOutput("present 0\nmissing 1\n--\nx.json\t{}\n")).toEqual({ present: new Set([0]), missing: new Set([1]), listing: "x.json\t{}\n" });
    expect(parseInspectOutput("--\n").listing).toBe("");
  });

  it("quotes every name and path it puts in the script", () => {
    const script = uploadScript(keyPlacements(nodeWith({ k: { text: "x", destDir: "/run/it's here", name: "a b$(id)", user: "u'x" } })), "2024-01-01T00:00:00.000Z", hiveRecordOf(HIVE));
    expect(script).toContain(`'/run/it'\\''s here/a b$(id)'`);
    expect(script).toContain(`id -u -- 'u'\\''x'`);
  });
});
