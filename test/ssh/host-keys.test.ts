// Host key verification against a real sshd with ED25519 and RSA host keys.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostKeyRecorded } from "../../src/ssh/connection.js";
import { HostKeyChangedError, HostKeyRevokedError, HostKeyUnknownError } from "../../src/ssh/errors.js";
import { SshPool } from "../../src/ssh/pool.js";
import { makeKeyPair, makeTempDir, publicKeyOf, run, startTestSshd, type TestSshd } from "./sshd-fixture.js";

let sshd: TestSshd;
let dir: string;
const pools: SshPool[] = [];

function newPool(options: ConstructorParameters<typeof SshPool>[0] = {}): SshPool {
  const pool = new SshPool({ agent: undefined, ...options });
  pools.push(pool);
  return pool;
}

let fileCount = 0;
function knownHosts(...lines: string[]): string {
  const file = join(dir, `known_hosts_${++fileCount}`);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(""));
  return file;
}

async function connectError(pool: SshPool, file: string): Promise<unknown> {
  return pool.connect(sshd.target(file)).then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  sshd = await startTestSshd({ hostKeyTypes: ["ed25519", "rsa"] });
  dir = makeTempDir("known-hosts");
}, 30_000);

afterAll(async () => {
  await Promise.all(pools.map((p) => p.closeAll()));
  await sshd?.stop();
});

const ed25519 = () => sshd.hostKeys[0]!;
const rsa = () => sshd.hostKeys[1]!;
const otherKey = () => publicKeyOf(makeKeyPair(dir, `other_${++fileCount}`));

describe("known host keys", () => {
  it("connects when a [127.0.0.1]:PORT entry matches", async () => {
    const connection = await newPool().connect(sshd.target(knownHosts(sshd.knownHostsLine("ed25519"))));
    expect(connection.hostKey).toEqual({ algorithm: "ssh-ed25519", keyType: "ED25519", fingerprint: ed25519().fingerprint });
    expect((await connection.exec("echo ok")).stdout).toBe("ok\n");
  });

  it("finds the host in a comma-separated list among other entries", async () => {
    const file = knownHosts(
      "# fleet",
      `other.example ${otherKey()}`,
      `web-1,[127.0.0.1]:${sshd.port},10.9.9.9 ${ed25519().publicKey}`,
    );
    await expect(newPool().connect(sshd.target(file))).resolves.toBeDefined();
  });

  it("matches an entry hashed by ssh-keygen -H", async () => {
    const file = knownHosts(sshd.knownHostsLine("ed25519"));
    run("ssh-keygen", ["-H", "-f", file]);
    expect(readFileSync(file, "utf8")).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /);
    await expect(newPool().connect(sshd.target(file))).resolves.toBeDefined();
  });

  it("negotiates RSA when only the RSA key is known, though the server prefers ED25519", async () => {
    const connection = await newPool().connect(sshd.target(knownHosts(sshd.knownHostsLine("rsa"))));
    expect(connection.hostKey).toMatchObject({ keyType: "RSA", fingerprint: rsa().fingerprint });
    expect(connection.hostKey.algorithm).toMatch(/^rsa-sha2-(256|512)$/);
  });

  it("checks the files in order, a missing one included", async () => {
    const file = knownHosts(sshd.knownHostsLine("ed25519"));
    await expect(newPool().connect(sshd.target(join(dir, "missing"), { knownHostsFiles: [join(dir, "missing"), file] }))).resolves.toBeDefined();
  });
});

describe("unknown host keys", () => {
  it("are refused with the fingerprint ssh-keygen -l prints and how to trust them", async () => {
    const file = knownHosts(`other.example ${otherKey()}`);
    const before = readFileSync(file, "utf8");
    const error = await connectError(newPool(), file);
    expect(error).toBeInstanceOf(HostKeyUnknownError);
    expect(error).toMatchObject({ code: "E_HOSTKEY_UNKNOWN", fault: "user", exitCode: 1 });
    expect((error as Error).message).toBe(
      `test-node (127.0.0.1:${sshd.port}): host key unknown: ED25519 ${ed25519().fingerprint}; ` +
        `verify it, then trust it with --accept-new-host-keys or add it to ${file} ` +
        `(ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${file})`,
    );
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("are recorded with acceptNewHostKeys, and trusted from then on", async () => {
    const file = join(dir, "fresh", "known_hosts");
    const recorded: HostKeyRecorded[] = [];
    const connection = await newPool({ acceptNewHostKeys: true, onHostKeyRecorded: (e) => recorded.push(e) }).connect(sshd.target(file));
    expect((await connection.exec("echo ok")).stdout).toBe("ok\n");
    expect(readFileSync(file, "utf8")).toBe(`${sshd.knownHostsLine("ed25519")}\n`);
    expect(recorded).toEqual([
      { node: "test-node", host: "127.0.0.1", port: sshd.port, keyType: "ED25519", fingerprint: ed25519().fingerprint, file },
    ]);
    // A new pool without the flag: the recorded key is now known.
    await expect(newPool().connect(sshd.target(file))).resolves.toBeDefined();
    // OpenSSH agrees with what was written.
    expect(run("ssh-keygen", ["-F", `[127.0.0.1]:${sshd.port}`, "-f", file])).toContain(ed25519().publicKey);
  });
});

describe("recording concurrently", () => {
  it("writes one line when several nodes on the same host are trusted at once", async () => {
    const file = join(dir, "concurrent_known_hosts");
    const pool = newPool({ acceptNewHostKeys: true });
    await Promise.all(["a", "b", "c"].map((node) => pool.connect(sshd.target(file, { node }))));
    expect(readFileSync(file, "utf8")).toBe(`${sshd.knownHostsLine("ed25519")}\n`);
  });
});

describe("changed host keys", () => {
  it("are refused even with acceptNewHostKeys, naming the file and line and how to remove it", async () => {
    const file = knownHosts("# a comment", `[127.0.0.1]:${sshd.port} ${otherKey()}`);
    const before = readFileSync(file, "utf8");
    const error = await connectError(newPool({ acceptNewHostKeys: true }), file);
    expect(error).toBeInstanceOf(HostKeyChangedError);
    expect(error).toMatchObject({ code: "E_HOSTKEY_CHANGED", fault: "user", exitCode: 1 });
    const { message, hint } = error as HostKeyChangedError;
    expect(message).toContain(`test-node (127.0.0.1:${sshd.port}): host key changed: it presented ED25519 ${ed25519().fingerprint}`);
    expect(message).toContain(`${file}:2`);
    expect(message).toContain("attack");
    expect(hint).toBe(`if the change is expected, remove the old entry with ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${file} and connect again`);
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("include a server that no longer offers any key type known for it", async () => {
    const ecdsa = publicKeyOf(makeKeyPair(dir, "ecdsa_only", "ecdsa"));
    const file = knownHosts(`[127.0.0.1]:${sshd.port} ${ecdsa}`);
    const error = await connectError(newPool({ acceptNewHostKeys: true }), file);
    expect(error).toBeInstanceOf(HostKeyChangedError);
    expect((error as Error).message).toContain(`offers none of the key types recorded for it (ECDSA in ${file}:1)`);
  });

  it("refuse @revoked keys", async () => {
    const file = knownHosts(`@revoked [127.0.0.1]:${sshd.port} ${ed25519().publicKey}`, sshd.knownHostsLine("ed25519"));
    const error = await connectError(newPool({ acceptNewHostKeys: true }), file);
    expect(error).toBeInstanceOf(HostKeyRevokedError);
    expect((error as Error).message).toContain(`${file}:1`);
  });
});
