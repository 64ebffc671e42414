// End-to-end: how hive apply reaches nodes over SSH (ssh2 for commands, OpenSSH for nix copy):
// known_hosts forms, host key refusals, trust on first use, ~/.ssh/config, ssh-agent, ProxyJump.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { downLab, execOnNode, findFreeSubnet, makeLabFlake, resetNode, setVersion, upLab, type Lab } from "../lab/lab.js";
import { nodePaths } from "../lab/lab-layout.js";
import { acquireLabLock } from "../lab/lab-lock.js";
import { runCommand, sleep } from "../lab/processes.js";
import { useLab } from "../lab/use-lab.js";
import { startHive } from "../cli/run-hive.js";
import { fetchFromNode, nodeState } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let dir = "";
let flakeDir = "";
/** Versions differ between runs too, so every apply changes its node. */
const RUN = Date.now().toString(36);

interface NodeReport {
  name: string;
  result: string;
  outPath: string | null;
  error: { code: string; message: string } | null;
}

type NodeSettings = Record<string, unknown>;

/** A hive.ts with exactly these nodes and no defaults: each test spells out its SSH settings. */
function writeHiveFile(name: string, flake: string, nodes: Record<string, NodeSettings>): string {
  const file = join(dir, `${name}.hive.ts`);
  writeFileSync(file, `export default ${JSON.stringify({ meta: { flake }, nodes }, null, 2)};\n`);
  return file;
}

/** A fresh home for hive (os.homedir() follows HOME), with an empty ~/.ssh unless files are given. */
function makeHome(files: Record<string, string> = {}): string {
  const home = mkdtempSync(join(dir, "home-"));
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(home, ".ssh", name), text);
  return home;
}

/**
 * `hive apply --json` on a one-node hive.ts. Not spawnSync: the port forwarder below lives in this
 * process. HOME is an empty temp home and there is no agent unless the test says otherwise, so
 * nothing of the machine's own ~/.ssh or ssh-agent helps.
 */
async function apply(hiveFile: string, options: { args?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  const env = { HOME: makeHome(), SSH_AUTH_SOCK: undefined, ...options.env };
  const run = await startHive(["-f", hiveFile, "apply", "--json", ...(options.args ?? [])], { env }).done;
  let nodes: NodeReport[];
  try {
    nodes = (JSON.parse(run.stdout) as { nodes: NodeReport[] }).nodes;
  } catch {
    throw new Error(`hive printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  expect(nodes).toHaveLength(1);
  return { ...run, node: nodes[0]!, why: `exit ${run.code}\n${run.stdout}\n${run.stderr}` };
}

type ApplyRun = Awaited<ReturnType<typeof apply>>;
type NodeState = Awaited<ReturnType<typeof nodeState>>;

function addressOf(someLab: Lab, node: string): string {
  const found = someLab.nodes.find((n) => n.name === node);
  if (!found) throw new Error(`lab ${someLab.name} has no node ${node}`);
  return found.address;
}

/** The node's ed25519 host key as known_hosts fields: `ssh-ed25519 AAAA...`. */
function hostKeyOf(someLab: Lab, node: string): string {
  return readFileSync(`${nodePaths(someLab, node).hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

/** What `ssh-keygen -lf` says the node's real host key's fingerprint is. */
async function realFingerprint(someLab: Lab, node: string): Promise<string> {
  const { stdout } = await runCommand("ssh-keygen", ["-lf", `${nodePaths(someLab, node).hostKey}.pub`]);
  const fingerprint = /SHA256:\S+/.exec(stdout)?.[0];
  if (!fingerprint) throw new Error(`ssh-keygen -lf printed no fingerprint: ${stdout}`);
  return fingerprint;
}

function writeKnownHosts(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(""));
  return file;
}

/** Settings for a lab node reached directly with the lab's client key. */
function labNode(node: string, knownHostsFile: string, extra: NodeSettings = {}): NodeSettings {
  return { targetHost: addressOf(lab, node), ssh: { identityFile: lab.identityFile, knownHostsFile, connectTimeout: 5 }, ...extra };
}

/** apply succeeded, and the node runs and serves the system it built for `version`. */
async function expectServing(run: ApplyRun, node: string, version: string): Promise<void> {
  expect(run.code, run.why).toBe(0);
  expect(run.node.result, run.why).toBe("succeeded");
  const state = await nodeState(lab, node);
  expect(state.current).toBe(run.node.outPath);
  expect(state.current).toMatch(new RegExp(`-nixos-system-${node}-${version}$`));
  expect(state.profile).toBe(state.current);
  expect(await fetchFromNode(lab, node)).toEqual({ status: 200, body: `${node} ${version}` });
}

/** Deploys `version` with the lab's own known_hosts, so a refusal afterwards has something to keep. */
async function deployBaseline(node: string, version: string): Promise<void> {
  await setVersion(flakeDir, version);
  const run = await apply(writeHiveFile(`${node}-baseline`, flakeDir, { [node]: labNode(node, lab.knownHostsFile) }));
  await expectServing(run, node, version);
}

/** A refused apply: the node is as it was, and the new system never reached its store. */
async function expectUntouched(someLab: Lab, node: string, before: NodeState, run: ApplyRun): Promise<void> {
  expect(await nodeState(someLab, node)).toEqual(before);
  if (run.node.outPath) expect((await execOnNode(someLab, node, `test -e ${run.node.outPath}`)).exitCode, `${run.node.outPath} was copied`).not.toBe(0);
}

/** A TCP port on 127.0.0.1 forwarding to host:22: a node on a port other than 22. */
async function forwardPort(host: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(22, host);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("forwarder has no port");
  return {
    port: address.port,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  dir = mkdtempSync(join(tmpdir(), "hive-e2e-ssh-"));
  flakeDir = await makeLabFlake(join(dir, "flake"), { version: `${RUN}-0`, nodes: Object.fromEntries(lab.nodes.map((n) => [n.name, {}])) });
});

afterAll(async () => {
  // Later test files on the shared lab get fresh nodes, not ours.
  if (lab) await Promise.all(lab.nodes.map((node) => resetNode(lab, node.name)));
});

describe("known_hosts entries", () => {
  it("accepts hashed entries (ssh-keygen -H), for the ssh2 connection and for nix copy", async () => {
    const file = writeKnownHosts("hashed_known_hosts", [`${addressOf(lab, "t1")} ${hostKeyOf(lab, "t1")}`]);
    await runCommand("ssh-keygen", ["-H", "-f", file]);
    const hashed = readFileSync(file, "utf8");
    expect(hashed).toMatch(/^\|1\|[^|\s]+\|[^|\s]+ ssh-ed25519 /);
    expect(hashed).not.toContain(addressOf(lab, "t1"));

    const version = `${RUN}-hashed`;
    await setVersion(flakeDir, version);
    const run = await apply(writeHiveFile("hashed", flakeDir, { t1: labNode("t1", file) }));
    await expectServing(run, "t1", version);
  });

  it("matches [host]:port entries, plain and hashed, for a node on another port", async () => {
    const forwarder = await forwardPort(addressOf(lab, "t2"));
    try {
      const name = `[127.0.0.1]:${forwarder.port}`;
      const onPort = { targetHost: "127.0.0.1", targetPort: forwarder.port };
      const plain = writeKnownHosts("port_known_hosts", [`${name} ${hostKeyOf(lab, "t2")}`]);
      const hashed = writeKnownHosts("port_hashed_known_hosts", [`${name} ${hostKeyOf(lab, "t2")}`]);
      await runCommand("ssh-keygen", ["-H", "-f", hashed]);
      expect(readFileSync(hashed, "utf8")).not.toContain("127.0.0.1");

      for (const [form, file] of [["plain", plain], ["hashed", hashed]] as const) {
        const version = `${RUN}-port-${form}`;
        await setVersion(flakeDir, version);
        const before = forwarder.connections();
        const run = await apply(writeHiveFile(`port-${form}`, flakeDir, { t2: labNode("t2", file, onPort) }));
        await expectServing(run, "t2", version);
        // One for hive's ssh2 connection, at least one for nix copy's OpenSSH: both came this way.
        expect(forwarder.connections() - before).toBeGreaterThanOrEqual(2);
      }
    } finally {
      await forwarder.close();
    }
  });

  it("does not take an [ADDR]:22 entry for ADDR on port 22, as OpenSSH does not", async () => {
    const address = addressOf(lab, "t1");
    const file = writeKnownHosts("bracketed_22_known_hosts", [`[${address}]:22 ${hostKeyOf(lab, "t1")}`]);
    const hive = writeHiveFile("bracketed-22", flakeDir, { t1: labNode("t1", file) });
    const exec = await startHive(["-f", hive, "exec", "--json", "--", "true"], { env: { HOME: makeHome(), SSH_AUTH_SOCK: undefined } }).done;
    expect(exec.code, exec.stderr).toBe(1);
    expect(exec.stdout + exec.stderr).toContain("E_HOSTKEY_UNKNOWN");
    const openssh = await runCommand(
      "ssh",
      ["-i", lab.identityFile, "-o", "ConnectTimeout=5", "-o", `UserKnownHostsFile=${file}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", `root@${address}`, "true"],
      { allowFailure: true },
    );
    expect(openssh.exitCode).toBe(255);
    expect(openssh.stderr).toMatch(/No ED25519 host key is known for \S+ and you have requested strict checking/);
  });
});

describe("host key refusals", () => {
  it("refuses a changed host key with its SHA256 fingerprint, and leaves the node as it was", async () => {
    await deployBaseline("t3", `${RUN}-before-change`);
    const keyFile = join(dir, "other_host_key");
    await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not t3", "-f", keyFile]);
    const otherKey = readFileSync(`${keyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    const file = writeKnownHosts("changed_known_hosts", ["# t3 as it was before its reinstall", `${addressOf(lab, "t3")} ${otherKey}`]);

    await setVersion(flakeDir, `${RUN}-changed`);
    const before = await nodeState(lab, "t3");
    const run = await apply(writeHiveFile("changed", flakeDir, { t3: labNode("t3", file) }));
    expect(run.code, run.why).toBe(1);
    expect(run.node.result).toBe("failed");
    // Soft, here and below: a wrong error code fails the test, but the node's state is still checked.
    expect.soft(run.node.error?.code).toBe("E_HOSTKEY_CHANGED");
    const fingerprint = await realFingerprint(lab, "t3");
    expect(run.node.error?.message).toContain(`t3 (${addressOf(lab, "t3")}:22): host key changed: it presented ED25519 ${fingerprint}`);
    expect(run.node.error?.message).toContain(`${file}:2`);
    await expectUntouched(lab, "t3", before, run);
    expect(await fetchFromNode(lab, "t3")).toEqual({ status: 200, body: `t3 ${RUN}-before-change` });
  });

  it("trusts a new host key only with --accept-new-host-keys, records it, and checks it from then on", async () => {
    const file = writeKnownHosts("empty_known_hosts", []);
    const hive = writeHiveFile("tofu", flakeDir, { t4: labNode("t4", file) });
    const line = `${addressOf(lab, "t4")} ${hostKeyOf(lab, "t4")}`;

    await setVersion(flakeDir, `${RUN}-tofu-1`);
    const before = await nodeState(lab, "t4");
    const refused = await apply(hive);
    expect(refused.code, refused.why).toBe(1);
    expect.soft(refused.node.error?.code).toBe("E_HOSTKEY_UNKNOWN");
    const fingerprint = await realFingerprint(lab, "t4");
    expect(refused.node.error?.message).toContain(`host key unknown: ED25519 ${fingerprint}`);
    expect(refused.node.error?.message).toContain(`trust it with --accept-new-host-keys or add it to ${file}`);
    await expectUntouched(lab, "t4", before, refused);
    expect(readFileSync(file, "utf8")).toBe("");

    const accepted = await apply(hive, { args: ["--accept-new-host-keys"] });
    await expectServing(accepted, "t4", `${RUN}-tofu-1`);
    expect(readFileSync(file, "utf8")).toBe(`${line}\n`);

    await setVersion(flakeDir, `${RUN}-tofu-2`);
    const again = await apply(hive);
    await expectServing(again, "t4", `${RUN}-tofu-2`);
    expect(readFileSync(file, "utf8")).toBe(`${line}\n`);
  });
});

describe("~/.ssh/config", () => {
  it("follows a Host alias to its HostName, User, IdentityFile and UserKnownHostsFile", async () => {
    const home = makeHome({ known_hosts: `${addressOf(lab, "t5")} ${hostKeyOf(lab, "t5")}\n` });
    writeFileSync(
      join(home, ".ssh", "config"),
      ["Host someAlias", `  HostName ${addressOf(lab, "t5")}`, "  User deploy", `  IdentityFile ${lab.identityFile}`, `  UserKnownHostsFile ${join(home, ".ssh", "known_hosts")}`, ""].join("\n"),
    );
    const logBefore = readFileSync(nodePaths(lab, "t5").sshdLog, "utf8").length;
    const version = `${RUN}-alias`;
    await setVersion(flakeDir, version);
    const run = await apply(writeHiveFile("alias", flakeDir, { t5: { targetHost: "someAlias" } }), { env: { HOME: home } });
    await expectServing(run, "t5", version);
    // As deploy (and sudo), not root: the alias's User was used, by ssh2 and by nix copy alike.
    const log = readFileSync(nodePaths(lab, "t5").sshdLog, "utf8").slice(logBefore);
    expect(log).toMatch(/Accepted publickey for deploy /);
    expect(log).not.toMatch(/Accepted publickey for root /);
  });

  it("checks host keys in the alias's UserKnownHostsFile when it is not ~/.ssh/known_hosts", async () => {
    const home = makeHome({ fleet_known_hosts: `${addressOf(lab, "t5")} ${hostKeyOf(lab, "t5")}\n` });
    writeFileSync(
      join(home, ".ssh", "config"),
      ["Host someAlias", `  HostName ${addressOf(lab, "t5")}`, `  IdentityFile ${lab.identityFile}`, `  UserKnownHostsFile ${join(home, ".ssh", "fleet_known_hosts")}`, ""].join("\n"),
    );
    const version = `${RUN}-alias-known-hosts`;
    await setVersion(flakeDir, version);
    const run = await apply(writeHiveFile("alias-known-hosts", flakeDir, { t5: { targetHost: "someAlias" } }), { env: { HOME: home } });
    await expectServing(run, "t5", version);
    expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
  });
});

describe("ssh-agent", () => {
  it("authenticates with a key only the agent holds, for ssh2 and nix copy", async () => {
    const socket = join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-a", socket, "-D"], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !existsSync(socket); i++) await sleep(100);
      await runCommand("ssh-add", [lab.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      expect((await runCommand("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: socket } })).stdout).toContain("ED25519");
      const hive = writeHiveFile("agent", flakeDir, { t6: { targetHost: addressOf(lab, "t6"), ssh: { knownHostsFile: lab.knownHostsFile, connectTimeout: 5 } } });

      // Without the agent there is no key at all: the agent is what lets hive in.
      await setVersion(flakeDir, `${RUN}-agent`);
      const before = await nodeState(lab, "t6");
      const without = await apply(hive);
      expect(without.code, without.why).toBe(1);
      expect.soft(without.node.error?.code).toBe("E_SSH_AUTH");
      expect(without.node.error?.message).toContain(`t6 (${addressOf(lab, "t6")}:22): authentication as root failed; tried nothing`);
      await expectUntouched(lab, "t6", before, without);

      const run = await apply(hive, { env: { SSH_AUTH_SOCK: socket } });
      await expectServing(run, "t6", `${RUN}-agent`);
    } finally {
      agent.kill();
    }
  });
});

describe("ProxyJump", () => {
  const JUMP_LAB = "sshejump";
  let jumpLab: Lab | undefined;
  let jumpFlake = "";
  let release: (() => void) | undefined;

  beforeAll(async () => {
    if (!inject("lab")) return;
    // Our own small lab: the gate and a node only the gate can reach.
    release = await acquireLabLock(JUMP_LAB);
    jumpLab = await upLab({ name: JUMP_LAB, subnet: await findFreeSubnet(120), nodes: ["gate", "inner"], jumpHosts: { inner: "gate" } });
    jumpFlake = await makeLabFlake(join(dir, "jump-flake"), { version: `${RUN}-jump-0`, nodes: { gate: {}, inner: {} } });
  });

  afterAll(async () => {
    try {
      if (jumpLab) await downLab(JUMP_LAB);
    } finally {
      release?.();
    }
  });

  /** A home whose ssh config reaches inner through gate, and whose known_hosts has these nodes. */
  function jumpHome(known: string[]): string {
    const j = jumpLab!;
    const home = makeHome({ known_hosts: known.map((n) => `${addressOf(j, n)} ${hostKeyOf(j, n)}\n`).join("") });
    const config = [
      "Host gate",
      `  HostName ${addressOf(j, "gate")}`,
      "  User root",
      `  IdentityFile ${j.identityFile}`,
      "Host inner",
      `  HostName ${addressOf(j, "inner")}`,
      "  User root",
      `  IdentityFile ${j.identityFile}`,
      "  ProxyJump gate",
      "",
    ];
    writeFileSync(join(home, ".ssh", "config"), config.join("\n"));
    return home;
  }

  /** What inner serves, asked from the gate (the host cannot reach inner). */
  async function fetchInner(): Promise<string> {
    const result = await execOnNode(jumpLab!, "gate", `curl -s -m 3 http://${addressOf(jumpLab!, "inner")}/`);
    return result.stdout.trim();
  }

  it("deploys a node reachable only through its jump host, commands and nix copy alike", async () => {
    const j = jumpLab!;
    expect(await fetchFromNode(j, "inner")).toBeNull(); // not from here
    const version = `${RUN}-jump-1`;
    await setVersion(jumpFlake, version);
    const run = await apply(writeHiveFile("jump", jumpFlake, { inner: { targetHost: "inner", ssh: { connectTimeout: 5 } } }), {
      env: { HOME: jumpHome(["gate", "inner"]) },
    });
    expect(run.code, run.why).toBe(0);
    const state = await nodeState(j, "inner");
    expect(state.current).toBe(run.node.outPath);
    expect(state.current).toMatch(new RegExp(`-nixos-system-inner-${version}$`));
    expect(await fetchInner()).toBe(`inner ${version}`);
  });

  it("verifies each hop's host key: a missing jump host key or node key is refused, naming which", async () => {
    const j = jumpLab!;
    await setVersion(jumpFlake, `${RUN}-jump-refused`);
    const hive = writeHiveFile("jump-refused", jumpFlake, { inner: { targetHost: "inner", ssh: { connectTimeout: 5 } } });
    const before = await nodeState(j, "inner");
    const served = await fetchInner();

    const noGate = await apply(hive, { env: { HOME: jumpHome(["inner"]) } });
    expect(noGate.code, noGate.why).toBe(1);
    expect.soft(noGate.node.error?.code).toBe("E_HOSTKEY_UNKNOWN");
    expect(noGate.node.error?.message).toContain(`inner (jump host ${addressOf(j, "gate")}:22): host key unknown: ED25519 ${await realFingerprint(j, "gate")}`);

    const noInner = await apply(hive, { env: { HOME: jumpHome(["gate"]) } });
    expect(noInner.code, noInner.why).toBe(1);
    expect.soft(noInner.node.error?.code).toBe("E_HOSTKEY_UNKNOWN");
    expect(noInner.node.error?.message).toContain(`inner (${addressOf(j, "inner")}:22): host key unknown: ED25519 ${await realFingerprint(j, "inner")}`);

    await expectUntouched(j, "inner", before, noInner);
    expect(await fetchInner()).toBe(served);
  });
});
