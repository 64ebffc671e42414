// Authentication against a real sshd: ssh-agent, identity files tried in turn, and a useful error when all fail.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshAuthError } from "../../src/ssh/errors.js";
import { SshPool } from "../../src/ssh/pool.js";
import { makeKeyPair, makeTempDir, run, startTestSshd, type TestSshd } from "./sshd-fixture.js";

let sshd: TestSshd;
let dir: string;
let knownHosts: string;
let agent: ChildProcess | undefined;
let agentSocket: string;
const pools: SshPool[] = [];

function newPool(options: ConstructorParameters<typeof SshPool>[0] = { agent: undefined }): SshPool {
  const pool = new SshPool(options);
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  sshd = await startTestSshd();
  dir = makeTempDir("auth");
  knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);

  agentSocket = join(dir, "agent.sock");
  agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
  const deadline = Date.now() + 5000;
  while (!existsSync(agentSocket)) {
    if (Date.now() > deadline) throw new Error("ssh-agent did not create its socket");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  run("ssh-add", ["-q", sshd.clientKey], { ...process.env, SSH_AUTH_SOCK: agentSocket });
}, 30_000);

afterAll(async () => {
  await Promise.all(pools.map((p) => p.closeAll()));
  if (agent?.pid !== undefined && agent.exitCode === null) process.kill(agent.pid, "SIGTERM");
  await sshd?.stop();
});

describe("authentication", () => {
  it("uses ssh-agent's keys with no identity file", async () => {
    const connection = await newPool({ agent: agentSocket }).connect(sshd.target(knownHosts, { identityFiles: [] }));
    expect((await connection.exec("whoami")).stdout).toBe("root\n");
    expect(sshd.log()).toMatch(/Accepted publickey for root/);
  });

  it("takes the agent from SSH_AUTH_SOCK by default", async () => {
    const saved = process.env["SSH_AUTH_SOCK"];
    process.env["SSH_AUTH_SOCK"] = agentSocket;
    try {
      await expect(newPool({}).connect(sshd.target(knownHosts, { identityFiles: [] }))).resolves.toBeDefined();
    } finally {
      if (saved === undefined) delete process.env["SSH_AUTH_SOCK"];
      else process.env["SSH_AUTH_SOCK"] = saved;
    }
  });

  it("uses an identity file without an agent", async () => {
    const connection = await newPool().connect(sshd.target(knownHosts));
    expect((await connection.exec("whoami")).stdout).toBe("root\n");
  });

  it("tries identity files in turn: missing, refused and encrypted ones do not stop it", async () => {
    const refused = makeKeyPair(dir, "refused");
    const encrypted = makeKeyPair(dir, "encrypted", "ed25519", "secret");
    const target = sshd.target(knownHosts, { identityFiles: [join(dir, "missing"), refused, encrypted, sshd.clientKey] });
    await expect(newPool().connect(target)).resolves.toBeDefined();
  });

  it("falls back from a dead agent socket to identity files", async () => {
    await expect(newPool({ agent: join(dir, "no-agent.sock") }).connect(sshd.target(knownHosts))).resolves.toBeDefined();
  });

  it("fails with SshAuthError saying what was tried and what was skipped", async () => {
    const refused = makeKeyPair(dir, "refused2");
    const encrypted = makeKeyPair(dir, "encrypted2", "ed25519", "secret");
    const deadAgent = join(dir, "dead.sock");
    const target = sshd.target(knownHosts, { identityFiles: [refused, encrypted, join(dir, "missing")] });
    const error = await newPool({ agent: deadAgent })
      .connect(target)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(SshAuthError);
    expect(error).toMatchObject({ code: "E_SSH_AUTH", fault: "user", exitCode: 1 });
    const message = (error as Error).message;
    expect(message).toContain(`test-node (127.0.0.1:${sshd.port}): authentication as root failed; tried agent ${deadAgent} (`);
    expect(message).toContain(`key ${refused}`);
    expect(message).toContain(`skipped ${encrypted} (needs a passphrase; add it to ssh-agent instead), ${join(dir, "missing")} (missing)`);
  });
});
