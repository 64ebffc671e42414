// Real OpenSSH servers for the SSH engine's tests: one sshd per call, on 127.0.0.1 at a free port, in a temp dir.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshTarget } from "../../src/ssh/target.js";

export type KeyType = "ed25519" | "rsa" | "ecdsa";

export interface HostKey {
  type: KeyType;
  /** Private key file; `${file}.pub` is the public key. */
  file: string;
  /** `ssh-ed25519 AAAA...` as in the .pub file, without the comment. */
  publicKey: string;
  /** As `ssh-keygen -lf FILE.pub` prints it. */
  fingerprint: string;
}

export interface TestSshd {
  host: "127.0.0.1";
  port: number;
  pid: number;
  dir: string;
  hostKeys: HostKey[];
  /** A private key the server accepts for root. */
  clientKey: string;
  /** A known_hosts line for one of the host keys (default the first): `[127.0.0.1]:PORT type key`. */
  knownHostsLine(type?: KeyType): string;
  /** What sshd has logged so far. */
  log(): string;
  /** A target for root with the client key and the given known_hosts file. */
  target(knownHostsFile: string, overrides?: Partial<SshTarget>): SshTarget;
  stop(): Promise<void>;
}

export interface StartSshdOptions {
  hostKeyTypes?: KeyType[];
  /** Extra public key lines to authorize besides the generated client key. */
  authorizedKeys?: string[];
  /** Extra sshd_config lines; they win over the fixture's own. */
  config?: string[];
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hive-${prefix}-`));
}

/** ssh-keygen a key pair without passphrase (or with one); returns the private key's path. */
export function makeKeyPair(dir: string, name: string, type: KeyType = "ed25519", passphrase = ""): string {
  const file = join(dir, name);
  const args = ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", file];
  if (type === "rsa") args.push("-b", "2048");
  run("ssh-keygen", args);
  return file;
}

export function publicKeyOf(privateKeyFile: string): string {
  return readFileSync(`${privateKeyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

/** `SHA256:...` as ssh-keygen -l prints it for a key file. */
export function fingerprintOf(publicKeyFile: string): string {
  const fields = run("ssh-keygen", ["-lf", publicKeyFile]).split(/\s+/);
  return fields[1] ?? "";
}

export function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: "utf8", env: env ?? process.env });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startTestSshd(options: StartSshdOptions = {}): Promise<TestSshd> {
  // sshd refuses to start without its privilege separation directory; containers often lack it.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = makeTempDir("sshd");
  const hostKeys = (options.hostKeyTypes ?? ["ed25519"]).map((type): HostKey => {
    const file = makeKeyPair(dir, `ssh_host_${type}_key`, type);
    return { type, file, publicKey: publicKeyOf(file), fingerprint: fingerprintOf(`${file}.pub`) };
  });
  const clientKey = makeKeyPair(dir, "client_key");
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, [publicKeyOf(clientKey), ...(options.authorizedKeys ?? [])].join("\n") + "\n");

  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      // sshd takes the first value of each keyword, so extra lines go first to override.
      ...(options.config ?? []),
      `ListenAddress 127.0.0.1:${port}`,
      ...hostKeys.map((k) => `HostKey ${k.file}`),
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "StrictModes no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );

  const logFile = join(dir, "sshd.log");
  const logFd = openSync(logFile, "a");
  const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error("sshd did not start");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = () => readFileSync(logFile, "utf8");

  try {
    await waitForBanner(port, child);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${log()}`);
  }

  return {
    host: "127.0.0.1",
    port,
    pid,
    dir,
    hostKeys,
    clientKey,
    log,
    knownHostsLine(type) {
      const key = type === undefined ? hostKeys[0] : hostKeys.find((k) => k.type === type);
      if (!key) throw new Error(`no ${type} host key`);
      return `[127.0.0.1]:${port} ${key.publicKey}`;
    },
    target(knownHostsFile, overrides = {}) {
      return {
        node: "test-node",
        host: "127.0.0.1",
        port,
        user: "root",
        identityFiles: [clientKey],
        knownHostsFiles: [knownHostsFile],
        connectTimeoutMs: 5000,
        ...overrides,
      };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, "SIGTERM");
        await exited;
      }
    },
  };
}

/** Resolve once the port answers with an SSH banner; reject if sshd exits first or after 10 s. */
async function waitForBanner(port: number, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.setTimeout(1000);
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString());
      });
      socket.once("error", () => resolve(""));
      socket.once("timeout", () => {
        socket.destroy();
        resolve("");
      });
    });
    if (banner.startsWith("SSH-2.0")) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd on port ${port} did not answer within 10s`);
}
