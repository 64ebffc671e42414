// Running commands over a real sshd: exit codes, streams, stdin, reuse, timeouts, dropped connections.
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshDisconnectedError } from "../../src/ssh/errors.js";
import { SshPool } from "../../src/ssh/pool.js";
import { quoteCommand } from "../../src/ssh/quote.js";
import type { SshTarget } from "../../src/ssh/target.js";
import { startTestSshd, type TestSshd } from "./sshd-fixture.js";

let sshd: TestSshd;
let target: SshTarget;
const pool = new SshPool({ agent: undefined, maxOutputBytes: 64 * 1024 });

beforeAll(async () => {
  sshd = await startTestSshd();
  const knownHosts = join(sshd.dir, "known_hosts");
  writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
  target = sshd.target(knownHosts);
}, 30_000);

afterAll(async () => {
  await pool.closeAll();
  await sshd?.stop();
});

const acceptedLogins = () => sshd.log().match(/Accepted publickey for root/g)?.length ?? 0;

describe("exec", () => {
  it("returns exit code, stdout and stderr, and streams chunks as they come", async () => {
    const connection = await pool.connect(target);
    const chunks: string[] = [];
    const errChunks: string[] = [];
    const result = await connection.exec("echo out; echo err >&2; exit 3", {
      onStdout: (c) => chunks.push(c.toString()),
      onStderr: (c) => errChunks.push(c.toString()),
    });
    expect(result).toEqual({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false, aborted: false });
    expect(chunks.join("")).toBe("out\n");
    expect(errChunks.join("")).toBe("err\n");
    expect(connection.latencyMs).toBeGreaterThan(0);
  });

  it("reports death by signal", async () => {
    const connection = await pool.connect(target);
    const result = await connection.exec("kill -TERM $$");
    expect(result).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: false });
  });

  it("sends stdin as a string, a Buffer or a stream, and EOF without one", async () => {
    const connection = await pool.connect(target);
    expect((await connection.exec("cat", { stdin: "hello\nworld\n" })).stdout).toBe("hello\nworld\n");
    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    expect((await connection.exec("od -An -tu1", { stdin: bytes })).stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "255", "10"]);
    const stream = Readable.from(["a", "b", "c".repeat(100_000)]);
    expect((await connection.exec("wc -c", { stdin: stream })).stdout.trim()).toBe("100002");
    expect(await connection.exec("cat")).toMatchObject({ exitCode: 0, stdout: "" });
  });

  it("keeps the tail of large output but streams all of it", async () => {
    const connection = await pool.connect(target);
    let streamed = 0;
    const result = await connection.exec("head -c 300000 /dev/zero | tr '\\0' x; echo END", { onStdout: (c) => (streamed += c.length) });
    expect(streamed).toBe(300_004);
    expect(result.stdout.length).toBe(64 * 1024);
    expect(result.stdout.endsWith("xxEND\n")).toBe(true);
  });

  it("passes quoted arguments byte for byte through the remote shell", async () => {
    const connection = await pool.connect(target);
    const args = ["it's", `"q"`, "$(id)", "`id`", "a\nb", "*", "", "-n", "x y", "\\", "ünï ✓"];
    const result = await connection.exec(`printf '%s\\0' ${quoteCommand(args)}`);
    expect(result.stdout.split("\0").slice(0, -1)).toEqual(args);
  });
});

describe("connection reuse", () => {
  it("runs every exec of a node over one connection, concurrent connects included", async () => {
    const pool2 = new SshPool({ agent: undefined });
    const before = acceptedLogins();
    try {
      const [a, b] = await Promise.all([pool2.connect(target), pool2.connect(target)]);
      const c = await pool2.connect(target);
      expect(a).toBe(b);
      expect(a).toBe(c);
      // Every session's shell is a child of the same per-connection sshd process.
      const parents = await Promise.all([1, 2, 3].map(() => a.exec("echo $PPID")));
      expect(new Set(parents.map((p) => p.stdout)).size).toBe(1);
      expect(acceptedLogins() - before).toBe(1);
    } finally {
      await pool2.closeAll();
    }
  });

  it("connectFresh opens a separate connection each time, and closeAll closes it", async () => {
    const pool2 = new SshPool({ agent: undefined });
    const before = acceptedLogins();
    const pooled = await pool2.connect(target);
    const fresh = await pool2.connectFresh(target);
    const fresh2 = await pool2.connectFresh(target);
    expect(fresh).not.toBe(pooled);
    expect(fresh2).not.toBe(fresh);
    expect(acceptedLogins() - before).toBe(3);
    expect(await pool2.connect(target)).toBe(pooled);
    fresh.close();
    await expect(fresh.exec("true")).rejects.toBeInstanceOf(SshDisconnectedError);
    expect((await pooled.exec("echo pooled")).stdout).toBe("pooled\n");
    await pool2.closeAll();
    await expect(fresh2.exec("true")).rejects.toBeInstanceOf(SshDisconnectedError);
  });

  it("queues commands beyond the per-connection channel limit instead of failing", async () => {
    const pool2 = new SshPool({ agent: undefined, maxChannelsPerConnection: 2 });
    try {
      const connection = await pool2.connect(target);
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => connection.exec(`sleep 0.1; echo ${i}`)));
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    } finally {
      await pool2.closeAll();
    }
  });
});

describe("stopping commands", () => {
  it("a timed-out exec is killed and returns timedOut; the connection keeps working", async () => {
    const connection = await pool.connect(target);
    const started = Date.now();
    const stderr: string[] = [];
    // A pipeline and a background job: the whole session's process group must go, not just the shell.
    const result = await connection.exec("echo started; (sleep 31337 | cat) & sleep 31338; echo never", {
      timeoutMs: 500,
      onStderr: (c) => stderr.push(c.toString()),
    });
    expect(result).toMatchObject({ exitCode: null, signal: "SIGKILL", stdout: "started\n", stderr: "", timedOut: true, aborted: false });
    expect(stderr.join("")).toBe("");
    expect(Date.now() - started).toBeLessThan(1500);
    // The [s] keeps pgrep from matching its own command line.
    const left = await connection.exec("sleep 0.2; pgrep -f '[s]leep 3133[78]' || echo gone");
    expect(left.stdout.trim()).toBe("gone");
    expect(await pool.connect(target)).toBe(connection);
  });

  it("an aborted exec is killed and returns timedOut and aborted", async () => {
    const connection = await pool.connect(target);
    const controller = new AbortController();
    const result = await connection.exec("echo started; sleep 31339", {
      signal: controller.signal,
      onStdout: () => controller.abort(),
    });
    expect(result).toMatchObject({ timedOut: true, aborted: true, stdout: "started\n" });
    expect((await connection.exec("sleep 0.2; pgrep -f '[s]leep 31339' || echo gone")).stdout).toBe("gone\n");
  });

  it("kills a command whose timeout ran out while its channel was still opening", async () => {
    const connection = await pool.connect(target);
    const result = await connection.exec("sleep 31340", { timeoutMs: 0 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true });
    expect((await connection.exec("sleep 0.7; pgrep -f '[s]leep 31340' || echo gone")).stdout).toBe("gone\n");
  });

  it("leaves stderr of a stoppable command as the command wrote it", async () => {
    const connection = await pool.connect(target);
    const result = await connection.exec("echo one >&2; echo two >&2", { timeoutMs: 5000 });
    expect(result).toMatchObject({ exitCode: 0, stderr: "one\ntwo\n", timedOut: false });
  });

  it("an exec aborted before it starts does not run", async () => {
    const connection = await pool.connect(target);
    const controller = new AbortController();
    controller.abort();
    expect(await connection.exec("touch /tmp/should-not-exist", { signal: controller.signal })).toMatchObject({ timedOut: true, aborted: true });
  });
});

describe("dropped connections", () => {
  it("rejects pending execs with SshDisconnectedError, and the pool connects afresh", async () => {
    const pool2 = new SshPool({ agent: undefined });
    try {
      const connection = await pool2.connect(target);
      // Nothing can stop this sleep once its connection is gone; it ends by itself.
      const pending = connection.exec("sleep 5");
      // Kill this connection's sshd session process from inside it.
      void connection.exec("kill -9 $PPID").catch(() => undefined);
      const error = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SshDisconnectedError);
      expect(error).toMatchObject({ code: "E_SSH_DISCONNECTED", fault: "tool", exitCode: 1 });
      expect((error as Error).message).toMatch(/^test-node \(127\.0\.0\.1:\d+\): connection lost: /);
      await expect(connection.exec("true")).rejects.toBeInstanceOf(SshDisconnectedError);
      const again = await pool2.connect(target);
      expect(again).not.toBe(connection);
      expect((await again.exec("echo ok")).stdout).toBe("ok\n");
    } finally {
      await pool2.closeAll();
    }
  });

  it("notices a peer that stopped answering through keepalives", async () => {
    // A TCP relay to sshd that can be frozen: sockets stay open, nothing gets through.
    let frozen = false;
    const relay = net.createServer((client) => {
      const upstream = net.connect(sshd.port, "127.0.0.1");
      client.on("data", (d) => frozen || upstream.write(d));
      upstream.on("data", (d) => frozen || client.write(d));
      const end = () => (client.destroy(), upstream.destroy());
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const pool2 = new SshPool({ agent: undefined, keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
    try {
      const relayed = { ...target, port: (relay.address() as net.AddressInfo).port, knownHostsFiles: [join(sshd.dir, "known_hosts_relay")] };
      writeFileSync(relayed.knownHostsFiles[0]!, `[127.0.0.1]:${relayed.port} ${sshd.hostKeys[0]?.publicKey}\n`);
      const connection = await pool2.connect(relayed);
      const pending = connection.exec("sleep 3");
      frozen = true;
      const started = Date.now();
      const error = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SshDisconnectedError);
      expect((error as Error).message).toContain("connection lost: Keepalive timeout");
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await pool2.closeAll();
      relay.close();
    }
  });

  it("closeAll closes every connection", async () => {
    const pool2 = new SshPool({ agent: undefined });
    const connection = await pool2.connect(target);
    await pool2.closeAll();
    await expect(connection.exec("true")).rejects.toBeInstanceOf(SshDisconnectedError);
  });
});
