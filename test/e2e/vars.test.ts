// End-to-end: hive vars on the lab: generated SSH host keys and a shared password, stored encrypted, placed on nodes.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HiveRun, parseHiveJson, startHive } from "../cli/run-hive.js";
import { nodePaths } from "../lab/lab-layout.js";
import { execOnNode, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type HiveFixture, makeHiveFixture } from "./hive-fixture.js";
import { SLOW_SUDO, expectNoTrace, filesWithTraces, tracesOf, watchProcesses } from "./secret-traces.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
/** The operator's identity and other secrets, outside the temp directory the tests search. */
let privateDir: string;
let identity: string;
let recipient: string;

/** Known content for the password generator, so its traces can be searched for everywhere. */
const PASSWORD = `hive-vars-e2e-${randomBytes(18).toString("base64url")}\n`;

const GENERATORS = {
  "ssh-host": {
    description: "the node's SSH host key",
    command: ["sh", "-c", 'ssh-keygen -q -t ed25519 -N "" -C "root@$HIVE_NODE" -f "$out/ed25519"'],
    files: { ed25519: { destDir: "/run/keys/ssh", name: "ssh_host_ed25519_key", permissions: "0400" }, "ed25519.pub": { secret: false } },
  },
  // A slow generator reading its password from a file, so the watcher sees it run and can look for the password.
  "db-password": {
    share: true,
    on: "t1,t2,t3",
    command: ["sh", "-c", 'sleep 1; cat "$PASSWORD_SOURCE" > "$out/password"'],
    files: { password: { user: "deploy", group: "keys", permissions: "0440" } },
  },
};

function writeHiveTs(generators: Record<string, unknown> = GENERATORS, recipients = [recipient], nodes = ["t1", "t2", "t3"]): void {
  // t1 and t2 take key bytes slowly (so the upload can be watched); t3 is deployed whole, at full speed.
  const entries = nodes.map((name) => [
    name,
    { targetHost: lab.nodes.find((n) => n.name === name)!.address, targetUser: "deploy", ...(name === "t3" ? {} : { privilegeEscalationCommand: SLOW_SUDO }) },
  ]);
  const hive = {
    meta: { flake: fx.flakeDir },
    defaults: { ssh: { identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, connectTimeout: 3 } },
    nodes: Object.fromEntries(entries),
    vars: { recipients, generators },
  };
  writeFileSync(fx.hiveFile, `export default ${JSON.stringify(hive, null, 2)};\n`);
}

/** An OpenSSH private key's own lines: not its markers or first line, which every ed25519 key shares. */
function keyTraces(pem: string): string[] {
  const body = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
  return [...body.slice(1), JSON.stringify(pem).slice(1, -1), Buffer.from(pem).toString("base64").slice(0, 60)];
}

/** Every secret this file handles: the password, and the node keys once generated. */
const traces: string[] = tracesOf(PASSWORD);

async function hive(args: string[]): Promise<HiveRun> {
  const run = await startHive(["-f", fx.hiveFile, ...args], {
    cwd: tmpdir(),
    env: { HIVE_AGE_IDENTITY: identity, PASSWORD_SOURCE: join(privateDir, "password") },
  }).done;
  expectNoTrace(traces, `stdout of hive ${args.join(" ")}`, run.stdout);
  expectNoTrace(traces, `stderr of hive ${args.join(" ")}`, run.stderr);
  return run;
}

function age(args: string[]): string {
  const result = spawnSync("age", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`age ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

const varsDir = () => join(fx.dir, "vars");
const decrypt = (file: string) => age(["-d", "-i", identity, join(varsDir(), file)]);

/** Every file under vars/ with its content, to prove nothing changed. */
function snapshotVars(): Record<string, string> {
  const files = (readdirSync(varsDir(), { recursive: true }) as string[]).filter((f) => statSync(join(varsDir(), f)).isFile()).sort();
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(varsDir(), f), "utf8")]));
}

async function onNode(node: string, command: string): Promise<string> {
  const result = await execOnNode(lab, node, command);
  if (result.exitCode !== 0) throw new Error(`${command} on ${node} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

const ownership = (node: string, path: string) => onNode(node, `stat -c '%U:%G %a' '${path}'`).then((s) => s.trim());
const logins = (node: string) => (readFileSync(nodePaths(lab, node).sshdLog, "utf8").match(/Accepted publickey/g) ?? []).length;
const keysSnapshot = (node: string) =>
  onNode(node, "ls -laR --time-style=full-iso /run/keys /nix/var/hive/keys 2>&1; find /run/keys /nix/var/hive/keys -type f -exec md5sum {} + 2>/dev/null; true");

interface KeysJson {
  nodes: { name: string; result: string; keys: { name: string; path: string; outcome: string }[]; error: { code: string; message: string } | null }[];
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, []);
  privateDir = mkdtempSync(join(homedir(), ".hive-vars-e2e-"));
  identity = join(privateDir, "operator.key");
  spawnSync("age-keygen", ["-o", identity]);
  recipient = spawnSync("age-keygen", ["-y", identity], { encoding: "utf8" }).stdout.trim();
  writeFileSync(join(privateDir, "password"), PASSWORD, { mode: 0o600 });
  for (const node of ["t1", "t2", "t3"]) await execOnNode(lab, node, "rm -rf /run/keys /nix/var/hive/keys");
});

afterAll(() => {
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

describe("hive vars on the lab", () => {
  it("generates per-node SSH host keys and a shared password into vars/: age files and public files only", async () => {
    writeHiveTs();
    const watcher = watchProcesses(traces, { generator: "PASSWORD_SOURCE" });
    const run = await hive(["vars", "generate", "--json"]);
    const watched = await watcher.stop();
    expect(run.code, run.stderr).toBe(0);
    const outcomes = (JSON.parse(run.stdout) as { vars: { generator: string; node: string | null; outcome: string }[] }).vars.map((v) => [v.generator, v.node, v.outcome]);
    expect(outcomes).toEqual([
      ["ssh-host", "t1", "generated"],
      ["ssh-host", "t2", "generated"],
      ["ssh-host", "t3", "generated"],
      ["db-password", null, "generated"],
    ]);
    expect(watched.seen).toEqual(new Set(["generator"]));
    expect(watched.leaks).toEqual([]);

    // vars/ holds age files, the public keys, and hive's manifests; nothing else.
    const files = Object.keys(snapshotVars());
    for (const file of files) expect(file).toMatch(/(\.age|\/ed25519\.pub|\/\.manifest\.json)$/);
    expect(files.filter((f) => f.endsWith(".age")).sort()).toEqual([
      "nodes/t1/ssh-host/ed25519.age",
      "nodes/t2/ssh-host/ed25519.age",
      "nodes/t3/ssh-host/ed25519.age",
      "shared/db-password/password.age",
    ]);
    expect(decrypt("shared/db-password/password.age")).toBe(PASSWORD);
    for (const node of ["t1", "t2", "t3"]) {
      const key = decrypt(`nodes/${node}/ssh-host/ed25519.age`);
      traces.push(...keyTraces(key));
      writeFileSync(join(privateDir, "k"), key, { mode: 0o600 });
      const derived = spawnSync("ssh-keygen", ["-y", "-f", join(privateDir, "k")], { encoding: "utf8" }).stdout;
      expect(readFileSync(join(varsDir(), `nodes/${node}/ssh-host/ed25519.pub`), "utf8")).toBe(derived);
      expect(derived.trim().endsWith(`root@${node}`)).toBe(true);
    }
    rmSync(join(privateDir, "k"));
    // No plaintext in vars/, the deployer's temp dir, its private generator dir or the store.
    expect(await filesWithTraces(traces, [varsDir(), tmpdir(), join(homedir(), ".cache", "hive"), "/nix/store"], privateDir)).toEqual([]);
    expect(readdirSync(join(homedir(), ".cache", "hive")).filter((d) => d.startsWith("vars-"))).toEqual([]);

    const check = await hive(["vars", "check"]);
    expect(check.code, check.stdout).toBe(0);
  });

  it("places the secrets on the nodes with their owner and mode through upload-keys; nothing secret in argv, logs or JSON", async () => {
    writeHiveTs();
    const watcher = watchProcesses(traces, { "write on the node": "head\0-c\0" });
    const run = await hive(["-vv", "--debug", "upload-keys", "--on", "t1,t2"]);
    const watched = await watcher.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^t1\s+succeeded\s+2 written\s+/m);
    expect(watched.seen).toEqual(new Set(["write on the node"]));
    expect(watched.sweeps).toBeGreaterThan(5);
    expect(watched.leaks).toEqual([]);

    for (const node of ["t1", "t2"]) {
      expect(await onNode(node, "cat /run/keys/ssh/ssh_host_ed25519_key")).toBe(decrypt(`nodes/${node}/ssh-host/ed25519.age`));
      expect(await ownership(node, "/run/keys/ssh/ssh_host_ed25519_key")).toBe("root:root 400");
      expect(await onNode(node, "cat /run/keys/vars/db-password/password")).toBe(PASSWORD);
      expect(await ownership(node, "/run/keys/vars/db-password/password")).toBe("deploy:keys 440");
    }
    // The key works as a host key: sshd accepts it (-t tests a config with it and exits).
    expect((await execOnNode(lab, "t1", "/usr/sbin/sshd -t -f /dev/null -h /run/keys/ssh/ssh_host_ed25519_key")).exitCode).toBe(0);

    const json = parseHiveJson<KeysJson>(await hive(["upload-keys", "--on", "t1,t2", "--json"]));
    expect(json.byName["t1"]).toMatchObject({
      result: "unchanged",
      keys: [
        { name: "ssh-host/ed25519", path: "/run/keys/ssh/ssh_host_ed25519_key", outcome: "unchanged" },
        { name: "db-password/password", path: "/run/keys/vars/db-password/password", outcome: "unchanged" },
      ],
    });
    expect(await filesWithTraces(traces, [tmpdir(), "/nix/store", nodePaths(lab, "t1").nix], privateDir)).toEqual([]);
    expect((await execOnNode(lab, "t1", "grep -rlF -s -D skip -f - /tmp", { input: traces.join("\n") + "\n" })).stdout).toBe("");
  });

  it("places them through hive apply too, before activation", async () => {
    writeHiveTs();
    const run = parseHiveJson<KeysJson>(await hive(["apply", "--on", "t3", "--json"]));
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t3"]!.result).toBe("succeeded");
    expect(await onNode("t3", "cat /run/keys/ssh/ssh_host_ed25519_key")).toBe(decrypt("nodes/t3/ssh-host/ed25519.age"));
    expect(await ownership("t3", "/run/keys/vars/db-password/password")).toBe("deploy:keys 440");
  });

  it("keeps the earlier files, and the nodes' keys, when a generator fails or leaves out a declared file", async () => {
    writeHiveTs();
    const before = snapshotVars();
    for (const command of [
      ["sh", "-c", "echo 'ssh-keygen: no entropy' >&2; exit 2"],
      ["sh", "-c", 'ssh-keygen -q -t ed25519 -N "" -f "$out/id"'],
    ]) {
      writeHiveTs({ ...GENERATORS, "ssh-host": { ...GENERATORS["ssh-host"], command } });
      const run = await hive(["vars", "generate", "--regenerate", "ssh-host", "--on", "t1", "--json"]);
      expect(run.code).toBe(1);
      const [result] = (JSON.parse(run.stdout) as { vars: { outcome: string; message: string }[] }).vars;
      expect(result).toMatchObject({
        outcome: "failed",
        message: command[2]!.includes("exit 2") ? expect.stringMatching(/exited 2: ssh-keygen: no entropy; nothing was stored$/) : "ssh-host for t1: the command did not write ed25519, ed25519.pub (it wrote id, id.pub); nothing was stored",
      });
      expect(snapshotVars()).toEqual(before);
    }
    writeHiveTs();
    const upload = parseHiveJson<KeysJson>(await hive(["upload-keys", "--on", "t1", "--json"]));
    expect(upload.byName["t1"]!.result).toBe("unchanged");
  });

  it("refuses a cycle between generators and secrets without recipients, naming them", async () => {
    writeHiveTs({ ...GENERATORS, a: { dependencies: ["b"], command: ["true"], files: { f: {} } }, b: { dependencies: ["a"], command: ["true"], files: { f: {} } } });
    const cycle = await hive(["vars", "generate"]);
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toContain("vars.generators: dependency cycle a -> b -> a");
    writeHiveTs(GENERATORS, []);
    for (const args of [["vars", "generate"], ["upload-keys"]]) {
      const none = await hive(args);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain("vars.recipients: no recipients, so the secret files of ssh-host, db-password could be encrypted for no one");
    }
  });

  it("deploys nothing to a node whose vars file does not decrypt, and goes on with the others", async () => {
    writeHiveTs();
    const other = join(privateDir, "other.key");
    spawnSync("age-keygen", ["-o", other]);
    const stranger = spawnSync("age-keygen", ["-y", other], { encoding: "utf8" }).stdout.trim();
    // t2's host key re-encrypted for someone else only, as a bad merge might leave it.
    const t2Key = join(varsDir(), "nodes/t2/ssh-host/ed25519.age");
    const original = readFileSync(t2Key);
    const plaintext = decrypt("nodes/t2/ssh-host/ed25519.age");
    writeFileSync(join(privateDir, "k"), plaintext, { mode: 0o600 });
    age(["-e", "-a", "-r", stranger, "-o", t2Key, join(privateDir, "k")]);
    rmSync(join(privateDir, "k"));
    await onNode("t1", "rm -f /run/keys/vars/db-password/password");
    const before = await keysSnapshot("t2");
    const loginsBefore = logins("t2");
    try {
      const run = parseHiveJson<KeysJson>(await hive(["upload-keys", "--on", "t1,t2", "--json"]));
      expect(run.code).toBe(1);
      expect(run.byName["t2"]).toMatchObject({
        result: "failed",
        error: { code: "E_KEY_SOURCE", message: expect.stringContaining(`key ssh-host/ed25519: ${t2Key} is not encrypted for the identity ${identity}`) },
      });
      expect(await keysSnapshot("t2")).toBe(before);
      expect(logins("t2")).toBe(loginsBefore);
      expect(run.byName["t1"]!.result).toBe("succeeded");
      expect(await onNode("t1", "cat /run/keys/vars/db-password/password")).toBe(PASSWORD);
      const check = await hive(["vars", "check", "--on", "t2"]);
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/^ssh-host\s+t2\s+stale\s+ed25519\.age was changed outside hive$/m);
    } finally {
      writeFileSync(t2Key, original);
    }
  });
});
