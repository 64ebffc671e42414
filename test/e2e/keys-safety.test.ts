// End-to-end: a node's non-root user cannot turn key uploads or removals against root's files; one hive never removes another's keys.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { quoteShellArg } from "../../src/ssh/quote.js";
import { runHiveMeasured } from "../cli/measure-hive.js";
import { parseHiveJson, runHive } from "../cli/run-hive.js";
import { execOnNode, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type FixtureNode, type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

interface KeysJson {
  nodes: { name: string; result: string; keys: { name: string; outcome: string }[]; removed: { name: string; path: string }[]; error: { code: string; message: string } | null }[];
}

async function onNode(node: string, command: string): Promise<string> {
  const result = await execOnNode(lab, node, command);
  if (result.exitCode !== 0) throw new Error(`${command} on ${node} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/** What the node's non-root user (deploy, uid 1500) does. */
const asDeploy = (node: string, command: string) => onNode(node, `setpriv --reuid=1500 --regid=1500 --init-groups -- sh -c ${quoteShellArg(command)}`);

/** Everything about a directory of root's on the node: names, inodes, owners, modes, times and contents. */
const snapshot = (node: string, dir: string) =>
  onNode(node, `cd ${quoteShellArg(dir)} && for f in * .*; do [ -f "$f" ] && stat -c '%n %i %U:%G %a %Y' -- "$f" && md5sum < "$f"; done; true`);

function keysRun(file: string, args: string[]) {
  return parseHiveJson<KeysJson>(runHive(["-f", file, ...args, "--json"]));
}

function writeNodes(nodes: FixtureNode[], file = fx.hiveFile): void {
  writeHive(file, lab, fx.flakeDir, nodes);
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, []);
  for (const node of ["t1", "t2", "t3"]) {
    await onNode(node, "rm -rf /run/keys /nix/var/hive/keys /home/deploy/keys /home/deploy/keys.old /root/vault");
    // Root's own files, which deploy would like hive to overwrite or delete.
    await onNode(node, "mkdir -m 0700 /root/vault && echo precious > /root/vault/authorized_keys && echo precious-token > /root/vault/token");
  }
});

describe("keys and the node's non-root user", () => {
  it("does not write through a symlink deploy planted, whoever owns the key", async () => {
    const before = await snapshot("t1", "/root/vault");
    await asDeploy("t1", "ln -s /root/vault /home/deploy/keys");
    // A root key under deploy's home: deploy owns a directory on the way, so it could redirect the write.
    writeNodes([{ name: "t1", extra: { keys: { authorized_keys: { text: "ssh-ed25519 AAAA attacker\n", destDir: "/home/deploy/keys" } } } }]);
    const rootKey = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(await snapshot("t1", "/root/vault")).toBe(before);
    expect(rootKey.code).toBe(1);
    expect(rootKey.byName["t1"]!.error).toEqual({
      code: "E_KEY_TARGET",
      message: "/home/deploy (on the way to key authorized_keys) belongs to uid 1500, neither root nor the key's owner; that user could redirect what hive writes there; no key was written",
    });
    // deploy's own key in deploy's home: allowed, but not through the symlink.
    writeNodes([{ name: "t1", extra: { keys: { authorized_keys: { text: "ssh-ed25519 AAAA attacker\n", destDir: "/home/deploy/keys", user: "deploy", group: "deploy" } } } }]);
    const deployKey = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(await snapshot("t1", "/root/vault")).toBe(before);
    expect(deployKey.code).toBe(1);
    expect(deployKey.byName["t1"]!.error).toEqual({
      code: "E_KEY_TARGET",
      message: "/home/deploy/keys (on the way to key authorized_keys) is a symbolic link; hive does not write or remove through symbolic links; no key was written",
    });
    expect((await execOnNode(lab, "t1", "test -e /nix/var/hive/keys")).exitCode).not.toBe(0);
  });

  it("refuses `..` in destDir at validation, before any node is touched", async () => {
    const before = await snapshot("t1", "/root/vault");
    writeNodes([{ name: "t1", extra: { keys: { authorized_keys: { text: "x\n", destDir: "/run/keys/../../root/vault" } } } }]);
    const run = runHive(["-f", fx.hiveFile, "upload-keys"]);
    expect(await snapshot("t1", "/root/vault")).toBe(before);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`nodes.t1.keys.authorized_keys.destDir: destDir must not contain '.' or '..' (hive checks every directory on the way as written), got "/run/keys/../../root/vault"`);
  });

  it("removes a key from deploy's directory only while it is the file hive placed there", async () => {
    const token = { token: { text: "t0ken\n", destDir: "/home/deploy/keys", user: "deploy", group: "deploy", permissions: "0600" } };
    writeNodes([{ name: "t2", extra: { keys: token } }]);
    const placed = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(placed.code, placed.stderr).toBe(0);
    expect(await onNode("t2", "stat -c '%U:%G %a' /home/deploy/keys/token && cat /home/deploy/keys/token")).toBe("deploy:deploy 600\nt0ken\n");

    // deploy swaps its key directory for a link to root's vault, where a file of the same name lives.
    const before = await snapshot("t2", "/root/vault");
    await asDeploy("t2", "mv /home/deploy/keys /home/deploy/keys.old && ln -s /root/vault /home/deploy/keys");
    writeNodes([{ name: "t2", extra: { keys: {} } }]);
    const removal = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(await snapshot("t2", "/root/vault")).toBe(before);
    expect(removal.code).toBe(1);
    expect(removal.byName["t2"]!.error).toEqual({
      code: "E_KEY_UPLOAD",
      message: "removing keys no longer in hive.ts failed: /home/deploy/keys (on the way to key token) is a symbolic link; hive does not write or remove through symbolic links",
    });

    // A file put where hive's was (not the one hive placed) stays too; once it is gone, hive forgets the key.
    await asDeploy("t2", "rm /home/deploy/keys && mv /home/deploy/keys.old /home/deploy/keys && mv /home/deploy/keys/token /home/deploy/keys/token.mine && echo other > /home/deploy/keys/token");
    const replaced = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(replaced.code).toBe(1);
    expect(replaced.byName["t2"]!.error!.message).toContain("not removing /home/deploy/keys/token (key token): it is not the file hive placed there (replaced since)");
    expect(await onNode("t2", "cat /home/deploy/keys/token")).toBe("other\n");
    await asDeploy("t2", "rm /home/deploy/keys/token");
    const forgotten = keysRun(fx.hiveFile, ["upload-keys"]);
    expect(forgotten.code, forgotten.stderr).toBe(0);
    expect(forgotten.byName["t2"]!.removed).toEqual([{ name: "token", path: "/home/deploy/keys/token" }]);
  });
});

describe("keys of two hives on one node", () => {
  it("applying a second hive.ts leaves the first one's keys alone, and neither overwrites the other's", async () => {
    const hiveA = fx.hiveFile;
    const hiveB = join(mkdtempSync(join(tmpdir(), "hive-e2e-b-")), "hive.ts");
    writeNodes([{ name: "t3", extra: { keys: { a: { text: "from A\n" } } } }], hiveA);
    expect(keysRun(hiveA, ["upload-keys"]).code).toBe(0);
    const placedByA = await onNode("t3", "stat -c '%i %Y' /run/keys/a && cat /run/keys/a");

    writeNodes([{ name: "t3", extra: { keys: { b: { text: "from B\n" } } } }], hiveB);
    const applied = keysRun(hiveB, ["apply", "--on", "t3"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.byName["t3"]!.result).toBe("succeeded");
    expect((await nodeState(lab, "t3")).generation).not.toBeNull();
    expect(await onNode("t3", "cat /run/keys/b")).toBe("from B\n");
    expect(await onNode("t3", "stat -c '%i %Y' /run/keys/a && cat /run/keys/a")).toBe(placedByA);
    // B's key upload on its own leaves it alone too.
    expect(keysRun(hiveB, ["upload-keys"]).byName["t3"]).toMatchObject({ result: "unchanged", removed: [] });
    expect(await onNode("t3", "cat /run/keys/a")).toBe("from A\n");

    // B asking for A's file is refused, naming A.
    writeNodes([{ name: "t3", extra: { keys: { b: { text: "from B\n" }, mine: { text: "B's version\n", name: "a" } } } }], hiveB);
    const clash = keysRun(hiveB, ["upload-keys"]);
    expect(clash.code).toBe(1);
    expect(clash.byName["t3"]!.error).toEqual({
      code: "E_KEY_TARGET",
      message: `/run/keys/a (key mine) is a key of another hive (${hiveA}); two hives writing one file would undo each other: keep the key in one of them, or give both hive.ts the same meta.name; no key was written`,
    });
    expect(await onNode("t3", "stat -c '%i %Y' /run/keys/a && cat /run/keys/a")).toBe(placedByA);

    // A drops its key: A removes it, B's stays.
    writeNodes([{ name: "t3", extra: { keys: {} } }], hiveA);
    expect(keysRun(hiveA, ["upload-keys"]).byName["t3"]!.removed).toEqual([{ name: "a", path: "/run/keys/a" }]);
    expect(await onNode("t3", "ls /run/keys")).toBe("b\n");
  });
});

describe("a key source that does not end", () => {
  it("stops a key command that floods stdout at the key size limit, with hive's memory bounded and the node untouched", async () => {
    writeNodes([{ name: "t3", extra: { keys: { flood: { command: ["yes", "secret"] }, huge: { file: "/dev/zero" } } } }]);
    const keysState = () => onNode("t3", "ls -laR /run/keys /nix/var/hive/keys 2>&1; true");
    const before = await keysState();
    const timed = await runHiveMeasured(["-f", fx.hiveFile, "upload-keys", "--json"], { timeoutMs: 90_000, keepStdout: 1024 * 1024 });
    expect(await keysState()).toBe(before);
    // Node itself takes ~50 MiB; a key is at most 16 MiB, read once.
    expect(timed.peakRssKiB).toBeGreaterThan(0);
    expect(timed.peakRssKiB).toBeLessThan(200 * 1024);
    expect(timed.killed).toBe(false);
    const run = parseHiveJson<KeysJson>({ code: timed.code, stdout: timed.stdoutTail, stderr: timed.stderr });
    expect(run.code).toBe(1);
    expect(run.byName["t3"]!.error).toEqual({
      code: "E_KEY_SOURCE",
      message:
        "key flood: command yes secret printed more than 16 MiB, the most a key may hold; it was stopped (and 1 more: key huge: file /dev/zero is larger than 16 MiB, the most a key may hold); nothing was changed on the node",
    });
  });
});
