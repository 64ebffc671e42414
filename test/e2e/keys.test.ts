// End-to-end: hive upload-keys (and goal keys) on the lab, judged on the nodes; no trace of a secret anywhere else.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadHive } from "../../src/config/load.js";
import { SshHost } from "../../src/host/ssh-host.js";
import { missingKeys } from "../../src/keys/index.js";
import { SshPool } from "../../src/ssh/pool.js";
import { loadSshConfig } from "../../src/config/ssh-config.js";
import { resolveSshTarget } from "../../src/ssh/target.js";
import { HIVE_BIN, type HiveRun, parseHiveJson } from "../cli/run-hive.js";
import { nodePaths } from "../lab/lab-layout.js";
import { execOnNode, rebootNode, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type FixtureNode, type HiveFixture, makeHiveFixture, writeHive } from "./hive-fixture.js";
import { SLOW_SUDO, expectNoTrace as expectNoTraceIn, filesWithTraces as filesWithTracesIn, tracesOf, watchProcesses as watchForTraces } from "./secret-traces.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
/** Secret sources live outside the deployer's temp directory, which the tests search. */
let secretsDir: string;

/** A secret that is hard to carry intact: several lines, quotes, `$`, backquote, backslash, non-ASCII. */
function makeSecret(tag: string): string {
  const token = () => randomBytes(18).toString("base64url");
  return `hive-e2e-${tag}-${token()}\npa'ss"wo$rd\`x\\y ${token()}\n\u00e9t\u00e9 \u2603 ${token()}\n`;
}
const SECRET_A = makeSecret("A");
const SECRET_B = makeSecret("B");

const TRACES = [...tracesOf(SECRET_A), ...tracesOf(SECRET_B)];

function expectNoTrace(what: string, text: string): void {
  expectNoTraceIn(TRACES, what, text);
}

/** Runs the built hive without blocking this process (the watcher samples /proc meanwhile); checks its output for traces. */
function hive(args: string[], file = fx.hiveFile): Promise<HiveRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HIVE_BIN, "-f", file, ...args], { cwd: tmpdir(), env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      expectNoTrace(`stdout of hive ${args.join(" ")}`, stdout);
      expectNoTrace(`stderr of hive ${args.join(" ")}`, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

interface KeysJson {
  goal: string;
  nodes: {
    name: string;
    result: string;
    keys: { name: string; path: string; outcome: string }[];
    removed: { name: string; path: string }[];
    error: { code: string; message: string } | null;
  }[];
}

async function uploadKeys(args: string[], file?: string) {
  return parseHiveJson<KeysJson>(await hive([...args, "--json"], file));
}

const watchProcesses = (markers: Record<string, string>) => watchForTraces(TRACES, markers);
const filesWithTraces = (dirs: string[]) => filesWithTracesIn(TRACES, dirs, secretsDir);

async function onNode(node: string, command: string): Promise<string> {
  const result = await execOnNode(lab, node, command);
  if (result.exitCode !== 0) throw new Error(`${command} on ${node} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/** `user:group mode` of a file on the node. */
const ownership = (node: string, path: string) => onNode(node, `stat -c '%U:%G %a' '${path}'`).then((s) => s.trim());

/** Everything about a node's keys and hive's record of them, to prove a node was left untouched. */
const keysSnapshot = (node: string) =>
  onNode(node, "ls -la --time-style=full-iso /run/keys /nix/var/hive/keys 2>&1; for f in /run/keys/* /nix/var/hive/keys/*; do [ -f \"$f\" ] && md5sum \"$f\"; done; true");

const logins = (node: string) => (readFileSync(nodePaths(lab, node).sshdLog, "utf8").match(/Accepted publickey/g) ?? []).length;

function writeNodes(nodes: FixtureNode[], file = fx.hiveFile): void {
  writeHive(file, lab, fx.flakeDir, nodes);
}

const t1Keys = () => ({
  db: { command: ["sh", join(secretsDir, "slow-cat.sh"), join(secretsDir, "a.secret")], user: "deploy", group: "keys", permissions: "0640" },
  api: { file: join(secretsDir, "b.secret"), destDir: "/run/keys/app", name: "api.env", permissions: "0400" },
});
const t1 = (keys: Record<string, unknown> = t1Keys()): FixtureNode => ({ name: "t1", extra: { targetUser: "deploy", privilegeEscalationCommand: SLOW_SUDO, keys } });

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, []);
  secretsDir = mkdtempSync(join(homedir(), ".hive-keys-e2e-"));
  writeFileSync(join(secretsDir, "a.secret"), SECRET_A, { mode: 0o600 });
  writeFileSync(join(secretsDir, "b.secret"), SECRET_B, { mode: 0o600 });
  // A key command that takes its time, so the watcher sees it run.
  writeFileSync(join(secretsDir, "slow-cat.sh"), 'sleep 1.5\ncat "$1"\n');
  chmodSync(join(secretsDir, "slow-cat.sh"), 0o755);
  for (const node of lab.nodes) await execOnNode(lab, node.name, "rm -rf /run/keys /nix/var/hive/keys");
});

afterAll(() => {
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
});

describe("hive upload-keys", () => {
  it("places a multi-line secret as the deploy user through sudo, and leaves no trace of it anywhere else", async () => {
    writeNodes([t1()]);
    const watcher = watchProcesses({ "key command": "slow-cat.sh", "write on the node": "head\0-c\0" });
    const run = await hive(["-vv", "--debug", "upload-keys"]);
    const watched = await watcher.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^t1\s+succeeded\s+2 written\s+/m);
    expect(run.stderr).toMatch(/t1 \| keys/);

    // On the node: content, owner, group and mode; destDir made 0750 root:keys; no temp file left.
    expect(await onNode("t1", "cat /run/keys/db")).toBe(SECRET_A);
    expect(await ownership("t1", "/run/keys/db")).toBe("deploy:keys 640");
    expect(await onNode("t1", "cat /run/keys/app/api.env")).toBe(SECRET_B);
    expect(await ownership("t1", "/run/keys/app/api.env")).toBe("root:root 400");
    expect(await ownership("t1", "/run/keys")).toBe("root:keys 750");
    expect(await ownership("t1", "/run/keys/app")).toBe("root:keys 750");
    expect((await onNode("t1", "ls -A /run/keys /run/keys/app")).split(/\s+/).filter((f) => f.startsWith(".hive-key"))).toEqual([]);

    // The watcher ran while the key command ran on the deployer and while the node wrote the key.
    expect(watched.seen).toEqual(new Set(["key command", "write on the node"]));
    expect(watched.sweeps).toBeGreaterThan(5);
    expect(watched.leaks).toEqual([]);

    // Nowhere on disk but the key files: deployer's temp dir and store, the node's /tmp and /nix.
    expect(await filesWithTraces([tmpdir(), "/nix/store", nodePaths(lab, "t1").nix])).toEqual([]);
    const nodeTmp = await execOnNode(lab, "t1", "grep -rlF -s -D skip -f - /tmp", { input: TRACES.join("\n") + "\n" });
    expect(nodeTmp.stdout).toBe("");
  });

  it("reports keys already in place as unchanged, at every verbosity and in JSON", async () => {
    writeNodes([t1()]);
    const again = await uploadKeys(["upload-keys"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc.goal).toBe("keys");
    expect(again.byName["t1"]).toMatchObject({
      result: "unchanged",
      keys: [
        { name: "db", path: "/run/keys/db", outcome: "unchanged" },
        { name: "api", path: "/run/keys/app/api.env", outcome: "unchanged" },
      ],
      removed: [],
      error: null,
    });
    for (const flags of [["-v"], ["-vv", "--debug"]]) {
      const run = await hive([...flags, "upload-keys"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^t1\s+unchanged\s+2 unchanged\s+/m);
    }
  });

  it("tells status which keys a reboot took, and puts them back", async () => {
    writeNodes([t1()]);
    await rebootNode(lab, "t1");
    expect((await execOnNode(lab, "t1", "test -e /run/keys")).exitCode).not.toBe(0);

    const hiveConfig = await loadHive({ file: fx.hiveFile });
    const node = hiveConfig.nodes.find((n) => n.name === "t1")!;
    const pool = new SshPool({ agent: undefined });
    try {
      const host = new SshHost(node, resolveSshTarget(node, loadSshConfig()), pool);
      expect(await missingKeys(host, node)).toEqual([
        { name: "db", path: "/run/keys/db", uploadAt: "pre-activation", placedBefore: true },
        { name: "api", path: "/run/keys/app/api.env", uploadAt: "pre-activation", placedBefore: true },
      ]);
      const restored = await uploadKeys(["upload-keys", "--on", "t1"]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.byName["t1"]!.result).toBe("succeeded");
      expect(restored.byName["t1"]!.keys.map((k) => k.outcome)).toEqual(["written", "written"]);
      expect(await missingKeys(host, node)).toEqual([]);
    } finally {
      await pool.closeAll();
    }
    expect(await onNode("t1", "cat /run/keys/db")).toBe(SECRET_A);
    expect(await ownership("t1", "/run/keys/db")).toBe("deploy:keys 640");
  });

  it("removes a key dropped from hive.ts, and nothing hive did not place", async () => {
    writeNodes([{ name: "t2", extra: { keys: { a: { text: "alpha\n" }, b: { text: "beta\n", destDir: "/run/keys/b" } } } }]);
    const first = await uploadKeys(["upload-keys", "--on", "t2"]);
    expect(first.code, first.stderr).toBe(0);
    await onNode("t2", "echo mine > /run/keys/not-hives");

    writeNodes([{ name: "t2", extra: { keys: { a: { text: "alpha\n" } } } }]);
    const second = await uploadKeys(["upload-keys", "--on", "t2"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.byName["t2"]).toMatchObject({ result: "succeeded", keys: [{ name: "a", outcome: "unchanged" }], removed: [{ name: "b", path: "/run/keys/b/b" }] });
    expect((await onNode("t2", "ls -A /run/keys /run/keys/b")).split(/\s+/).filter((f) => f !== "" && !f.endsWith(":")).sort()).toEqual(["a", "b", "not-hives"]);
    expect((await execOnNode(lab, "t2", "test -e /run/keys/b/b")).exitCode).not.toBe(0);
    expect((await onNode("t2", "ls /nix/var/hive/keys")).trim().split("\n")).toHaveLength(1);

    const third = await uploadKeys(["upload-keys", "--on", "t2"]);
    expect(third.byName["t2"]).toMatchObject({ result: "unchanged", removed: [] });
  });

  it("fails a node whose key source fails before touching it; other nodes go on", async () => {
    writeNodes([
      { name: "t3", extra: { keys: { old: { text: "old\n" } } } },
      { name: "t4", extra: { keys: {} } },
    ]);
    expect((await uploadKeys(["upload-keys", "--on", "t3"])).code).toBe(0);
    const before = await keysSnapshot("t3");
    const loginsBefore = logins("t3");

    for (const bad of [
      { command: ["sh", "-c", "echo 'vault: permission denied' >&2; exit 3"] },
      { file: join(secretsDir, "does-not-exist") },
    ]) {
      writeNodes([
        { name: "t3", extra: { keys: { good: { file: join(secretsDir, "b.secret") }, bad } } },
        { name: "t4", extra: { keys: { fine: { file: join(secretsDir, "b.secret") } } } },
      ]);
      const run = await uploadKeys(["-vv", "upload-keys", "--on", "t3,t4"]);
      expect(run.code).toBe(1);
      expect(run.byName["t3"]!.result).toBe("failed");
      expect(run.byName["t3"]!.error!.code).toBe("E_KEY_SOURCE");
      expect(run.byName["t3"]!.error!.message).toMatch(
        bad.command ? /^key bad: command sh -c .* exited 3: vault: permission denied; nothing was changed on the node$/ : /^key bad: file .*does-not-exist does not exist; nothing was changed on the node$/,
      );
      expect(["succeeded", "unchanged"]).toContain(run.byName["t4"]!.result);
    }
    // Not even a login on t3: its keys, stale ones included, and hive's record are as they were.
    expect(logins("t3")).toBe(loginsBefore);
    expect(await keysSnapshot("t3")).toBe(before);
    expect(await onNode("t4", "cat /run/keys/fine")).toBe(SECRET_B);
  });

  it("refuses an unknown user or group on the node, writing nothing", async () => {
    await execOnNode(lab, "t5", "rm -rf /run/keys /nix/var/hive/keys");
    for (const [owner, message] of [
      [{ user: "hive-no-such-user" }, 'user "hive-no-such-user" of key db does not exist on the node; no key was written'],
      [{ group: "hive-no-such-group" }, 'group "hive-no-such-group" of key db does not exist on the node; no key was written'],
    ] as const) {
      writeNodes([{ name: "t5", extra: { keys: { ok: { file: join(secretsDir, "b.secret") }, db: { file: join(secretsDir, "a.secret"), ...owner } } } }]);
      const run = await uploadKeys(["-vv", "upload-keys", "--on", "t5"]);
      expect(run.code).toBe(1);
      expect(run.byName["t5"]!.error).toEqual({ code: "E_KEY_TARGET", message });
      expect((await execOnNode(lab, "t5", "test -e /run/keys || test -e /nix/var/hive/keys")).exitCode).not.toBe(0);
    }
  });

  it("is also `hive apply keys`, with a table without --json", async () => {
    writeNodes([{ name: "t6", extra: { keys: { k: { file: join(secretsDir, "a.secret"), permissions: "0644" } } } }]);
    const run = await hive(["apply", "keys", "--on", "t6"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^NODE\s+RESULT\s+KEYS\s+DURATION\s+ERROR$/m);
    expect(run.stdout).toMatch(/^t6\s+succeeded\s+1 written\s+/m);
    expect(await ownership("t6", "/run/keys/k")).toBe("root:root 644");

    const json = await uploadKeys(["apply", "keys", "--on", "t6"]);
    expect(json.doc).toMatchObject({ goal: "keys", nodes: [{ name: "t6", result: "unchanged" }] });

    // Like every `hive apply`, goal keys (and upload-keys) needs --on when hive.ts forbids acting on all nodes.
    writeHive(fx.hiveFile, lab, fx.flakeDir, [{ name: "t6", extra: { keys: { k: { file: join(secretsDir, "a.secret"), permissions: "0644" } } } }], { allowApplyAll: false });
    const refused = await hive(["apply", "keys"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("meta.allowApplyAll = false");
    const refusedToo = await hive(["upload-keys"]);
    expect(refusedToo.code).toBe(2);
    expect(refusedToo.stderr).toContain("hive upload-keys on every node needs an explicit selection");
    expect((await hive(["upload-keys", "--on", "t6"])).code).toBe(0);
  });
});
