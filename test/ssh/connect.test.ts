// Reaching nodes: ~/.ssh/config aliases, ProxyJump through real sshds, timeouts and refused connections.
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveNode } from "../../src/config/normalize.js";
import { nodeSchema, type NodeInput } from "../../src/config/schema.js";
import { HostKeyUnknownError, SshConnectError } from "../../src/ssh/errors.js";
import { SshPool } from "../../src/ssh/pool.js";
import { loadSshConfig } from "../../src/config/ssh-config.js";
import { resolveSshTarget, type SshTarget } from "../../src/ssh/target.js";
import { freePort, makeTempDir, publicKeyOf, startTestSshd, type TestSshd } from "./sshd-fixture.js";

let node: TestSshd;
let jump: TestSshd;
let noForwarding: TestSshd;
let home: string;
const pools: SshPool[] = [];
const servers: net.Server[] = [];

function newPool(options: ConstructorParameters<typeof SshPool>[0] = {}): SshPool {
  const pool = new SshPool({ agent: undefined, ...options });
  pools.push(pool);
  return pool;
}

/** A fresh HOME with ~/.ssh/config; the node's known_hosts file lists the given lines. */
function setUp(config: string[], knownHostsLines: string[]) {
  home = makeTempDir("home");
  mkdirSync(join(home, ".ssh"));
  const configFile = join(home, ".ssh", "config");
  writeFileSync(configFile, config.join("\n") + "\n");
  const knownHosts = join(home, "fleet_known_hosts");
  writeFileSync(knownHosts, knownHostsLines.map((l) => `${l}\n`).join(""));
  const lookup = loadSshConfig(configFile);
  const targetFor = (name: string, input: NodeInput = {}): SshTarget =>
    resolveSshTarget(resolveNode(name, nodeSchema.parse({ ssh: { knownHostsFile: knownHosts, connectTimeout: 5 }, ...input }), home, lookup), lookup, {
      home,
    });
  return { targetFor, knownHosts };
}

beforeAll(async () => {
  node = await startTestSshd();
  [jump, noForwarding] = await Promise.all([
    startTestSshd({ authorizedKeys: [publicKeyOf(node.clientKey)] }),
    startTestSshd({ authorizedKeys: [publicKeyOf(node.clientKey)], config: ["AllowTcpForwarding no"] }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(pools.map((p) => p.closeAll()));
  for (const server of servers) server.close();
  await Promise.all([node, jump, noForwarding].map((s) => s?.stop()));
});

const logins = (sshd: TestSshd) => sshd.log().match(/Accepted publickey for root/g)?.length ?? 0;

describe("~/.ssh/config", () => {
  it("supplies HostName, Port, User and IdentityFile for a node named by its alias", async () => {
    const { targetFor } = setUp(
      ["Host mynode", "  HostName 127.0.0.1", `  Port ${node.port}`, "  User root", `  IdentityFile ${node.clientKey}`],
      [node.knownHostsLine()],
    );
    const target = targetFor("mynode");
    expect(target).toMatchObject({ host: "127.0.0.1", port: node.port, user: "root", identityFiles: [node.clientKey] });
    const connection = await newPool().connect(target);
    const result = await connection.exec("whoami; echo $SSH_CONNECTION");
    expect(result.stdout).toMatch(new RegExp(`^root\\n127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${node.port}\\n$`));
  });
});

describe("ProxyJump", () => {
  const config = () => [
    "Host web-*",
    "  HostName 127.0.0.1",
    `  Port ${node.port}`,
    "  User root",
    `  IdentityFile ${node.clientKey}`,
    "  ProxyJump bastion",
    "Host bastion",
    "  HostName 127.0.0.1",
    `  Port ${jump.port}`,
    "  User root",
  ];

  it("connects through the jump host, verifying both host keys, and shares it between nodes", async () => {
    const { targetFor } = setUp(config(), [node.knownHostsLine(), jump.knownHostsLine()]);
    const before = { node: logins(node), jump: logins(jump) };
    const pool = newPool();
    const [a, b] = await Promise.all([pool.connect(targetFor("web-1")), pool.connect(targetFor("web-2"))]);
    expect(a).not.toBe(b);
    expect((await a.exec("echo a")).stdout).toBe("a\n");
    expect((await b.exec("echo b")).stdout).toBe("b\n");
    expect(logins(node) - before.node).toBe(2);
    expect(logins(jump) - before.jump).toBe(1);
  });

  it("refuses a jump host whose key is unknown, naming the jump host and each node", async () => {
    const { targetFor, knownHosts } = setUp(config(), [node.knownHostsLine()]);
    const pool = newPool();
    const errors = await Promise.all(
      ["web-1", "web-2"].map((name) =>
        pool.connect(targetFor(name)).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    for (const [i, error] of errors.entries()) {
      expect(error).toBeInstanceOf(HostKeyUnknownError);
      expect((error as Error).message).toBe(
        `web-${i + 1} (jump host 127.0.0.1:${jump.port}): host key unknown: ED25519 ${jump.hostKeys[0]?.fingerprint}; ` +
          `verify it, then trust it with --accept-new-host-keys or add it to ${knownHosts} ` +
          `(ssh-keyscan -p ${jump.port} 127.0.0.1 >> ${knownHosts})`,
      );
    }
  });

  it("refuses the node's unknown key behind a known jump host, naming the node", async () => {
    const { targetFor } = setUp(config(), [jump.knownHostsLine()]);
    const error = await newPool()
      .connect(targetFor("web-1"))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(HostKeyUnknownError);
    expect((error as Error).message).toMatch(new RegExp(`^web-1 \\(127\\.0\\.0\\.1:${node.port}\\): host key unknown: ED25519 `));
  });

  it("follows a chain of hops given as user@host:port", async () => {
    const { targetFor } = setUp(
      [
        "Host chained",
        "  HostName 127.0.0.1",
        `  Port ${node.port}`,
        `  IdentityFile ${node.clientKey}`,
        `  ProxyJump root@127.0.0.1:${jump.port},ssh://root@127.0.0.1:${jump.port}`,
      ],
      [node.knownHostsLine(), jump.knownHostsLine()],
    );
    const target = targetFor("chained");
    expect(target.jumps).toHaveLength(2);
    const before = logins(jump);
    const connection = await newPool().connect(target);
    expect((await connection.exec("echo through two hops")).stdout).toBe("through two hops\n");
    expect(logins(jump) - before).toBe(2);
  });

  it("reports a jump host that may not forward as a connect error for the node", async () => {
    const { targetFor } = setUp(
      ["Host web-1", "  HostName 127.0.0.1", `  Port ${node.port}`, `  IdentityFile ${node.clientKey}`, `  ProxyJump root@127.0.0.1:${noForwarding.port}`],
      [node.knownHostsLine(), noForwarding.knownHostsLine()],
    );
    const error = await newPool()
      .connect(targetFor("web-1"))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as Error).message).toContain(`web-1 (127.0.0.1:${node.port}): cannot connect: jump host 127.0.0.1:${noForwarding.port} could not reach it`);
  });
});

describe("connect failures", () => {
  async function server(onConnection: (socket: net.Socket) => void): Promise<number> {
    const s = net.createServer(onConnection);
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    return (s.address() as net.AddressInfo).port;
  }

  const target = (port: number, connectTimeoutMs = 5000): SshTarget => ({
    node: "web-1",
    host: "127.0.0.1",
    port,
    user: "root",
    identityFiles: [],
    knownHostsFiles: [join(makeTempDir("kh"), "known_hosts")],
    connectTimeoutMs,
  });

  async function failure(t: SshTarget): Promise<{ error: unknown; ms: number }> {
    const started = Date.now();
    const error = await newPool()
      .connect(t)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    return { error, ms: Date.now() - started };
  }

  it("times out against a port that accepts TCP but never speaks SSH", async () => {
    const silent: net.Socket[] = [];
    const port = await server((socket) => silent.push(socket));
    const { error, ms } = await failure(target(port, 500));
    for (const socket of silent) socket.destroy();
    expect(error).toBeInstanceOf(SshConnectError);
    expect(error).toMatchObject({ code: "E_SSH_CONNECT", fault: "tool", exitCode: 1 });
    expect((error as Error).message).toBe(`web-1 (127.0.0.1:${port}): cannot connect: no SSH handshake within 0.5s (connect timeout)`);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(1500);
  });

  it("reports a refused connection", async () => {
    const port = await freePort();
    const { error } = await failure(target(port));
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as Error).message).toBe(`web-1 (127.0.0.1:${port}): cannot connect: connection refused`);
    expect((error as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("reports a server that hangs up before the handshake", async () => {
    const port = await server((socket) => socket.destroy());
    const { error } = await failure(target(port));
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as Error).message).toBe(`web-1 (127.0.0.1:${port}): cannot connect: connection closed before the SSH handshake (is it an SSH server?)`);
  });

  it("reports a host name that does not resolve", async () => {
    const { error } = await failure({ ...target(22), host: "no-such-host.invalid" });
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as Error).message).toBe("web-1 (no-such-host.invalid:22): cannot connect: cannot resolve host name no-such-host.invalid");
  });
});
