// End-to-end: hive exec under output floods, a reader that stops reading, a hung node and an oversized command line.
import { spawnSync } from "node:child_process";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startHiveMeasured } from "../cli/measure-hive.js";
import { HIVE_BIN, runHive } from "../cli/run-hive.js";
import { execOnNode, freezeNode, thawNode, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type HiveFixture, makeHiveFixture } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;
const MiB = 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** pgrep/pkill options for the processes of the node that runs the command (the lab shares one pid space: its network namespace tells them apart). */
const ON_NODE = "--ns $$ --nslist net";

/** Pids of the node's processes that `pattern` (pgrep options and pattern) matches. */
async function pidsOn(node: string, pattern: string): Promise<number[]> {
  const result = await execOnNode(lab, node, `pgrep ${ON_NODE} ${pattern} || true`);
  return result.stdout.split("\n").filter((l) => l !== "").map(Number);
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name })));
});

afterEach(async () => {
  if (!lab) return;
  await thawNode(lab, "t1");
  for (const node of ["t1", "t2"]) await execOnNode(lab, node, `pkill ${ON_NODE} -x yes; pkill ${ON_NODE} -f 'slee[p] 31[.]7'; rm -f /tmp/hive-ran /tmp/got; true`);
});

describe("hive exec output", () => {
  it("streams 200 MB without a newline from two nodes in bounded memory, each line cut with a marker", async () => {
    const run = await startHiveMeasured(["-f", fx.hiveFile, "exec", "--on", "t1,t2", "--", "head", "-c", "200000000", "/dev/zero"], { timeoutMs: 150_000, keepStdout: 1024 * 1024 }).done;
    expect(run.killed).toBe(false);
    expect(run.peakRssKiB).toBeGreaterThan(0);
    expect(run.peakRssKiB).toBeLessThan(250 * MiB);
    expect(run.code, run.stderr).toBe(0);
    // One line per node: 64 Ki characters, then the marker; the rest of that line was dropped.
    const lines = run.stdoutTail.split("\n").filter((l) => l !== "");
    expect(lines.map((l) => l.slice(0, 5)).sort()).toEqual(["t1 | ", "t2 | "]);
    for (const line of lines) expect(line).toBe(`${line.slice(0, 5)}${"\0".repeat(65536)} [hive: line cut after 65536 characters]`);
    expect(run.stderr).toMatch(/2 nodes in [\d.]+s: 2 exit 0/);
  });

  it("holds the commands back while nothing reads hive's stdout, and stops at the first Ctrl-C", async () => {
    const run = startHiveMeasured(["-f", fx.hiveFile, "exec", "--on", "t1,t2", "--", "yes"], { timeoutMs: 60_000, readStdout: false });
    const yes = await waitFor("yes on t1 and t2", async () => {
      const [a, b] = [await pidsOn("t1", "-x yes"), await pidsOn("t2", "-x yes")];
      return a.length === 1 && b.length === 1 ? { t1: a[0]!, t2: b[0]! } : null;
    });
    await sleep(10_000);
    // How much each `yes` managed to write: held back, not the gigabytes it writes when read.
    const written = async (node: "t1" | "t2") => Number(/wchar: (\d+)/.exec((await execOnNode(lab, node, `cat /proc/${yes[node]}/io`)).stdout)?.[1]);
    const wrote = { t1: await written("t1"), t2: await written("t2") };
    const peak = run.peakRssKiB();
    expect(wrote.t1).toBeLessThan(64 * 1024 * 1024);
    expect(wrote.t2).toBeLessThan(64 * 1024 * 1024);
    expect(peak).toBeLessThan(200 * MiB);

    const interrupted = performance.now();
    run.kill("SIGINT");
    const done = await run.done;
    const stopMs = performance.now() - interrupted;
    expect(done.killed).toBe(false);
    expect(done.code).toBe(130);
    expect(stopMs).toBeLessThan(6_000);
    expect(await pidsOn("t1", "-x yes")).toEqual([]);
    expect(await pidsOn("t2", "-x yes")).toEqual([]);
  });
});

describe("hive exec and a node that hangs", () => {
  it("with --timeout, exits soon after the timeout and says the hung node did not confirm the kill", async () => {
    const run = startHiveMeasured(["-f", fx.hiveFile, "exec", "--on", "t1,t2", "--timeout", "8", "--", "sleep", "31.7"], { timeoutMs: 90_000 });
    const started = performance.now();
    await waitFor("the command on t1", async () => ((await pidsOn("t1", "-f 'slee[p] 31[.]7'")).length > 0 ? true : null));
    await freezeNode(lab, "t1");
    const done = await run.done;
    const afterStart = performance.now() - started;
    expect(done.killed).toBe(false);
    // The timeout (8 s from when the command started), 2 s for the node to confirm, 1 s to close.
    expect(afterStart).toBeLessThan(8_000 + 6_000);
    expect(done.code).toBe(1);
    expect(done.stderr).toContain("t1 ! [timed out after 8s; hive told the node to kill the command, but the node did not answer within 2s: it may still run there]");
    expect(done.stderr).toContain("t2 ! [timed out after 8s; the command was killed]");
    // What hive said is what happened: t2's command is gone; t1's still runs once the node wakes
    // (hive had to drop the connection unanswered, and sshd leaves a command without a terminal running).
    expect(await pidsOn("t2", "-f 'slee[p] 31[.]7'")).toEqual([]);
    await thawNode(lab, "t1");
    await sleep(1000);
    expect(await pidsOn("t1", "-f 'slee[p] 31[.]7'")).toHaveLength(1);
  });
});

describe("hive exec and a command line too long for the node", () => {
  it("refuses a 1 MB argument before connecting, saying to send it on stdin, which works", async () => {
    // 1 MiB in 16 arguments (one argument of hive's own may hold at most 128 KiB, as on the node).
    const parts = Array.from({ length: 16 }, () => "x".repeat(64 * 1024));
    const run = runHive(["-f", fx.hiveFile, "exec", "--on", "t1", "--", "sh", "-c", "touch /tmp/hive-ran", "sh", ...parts]);
    expect((await execOnNode(lab, "t1", "test -e /tmp/hive-ran")).exitCode).not.toBe(0);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: the command is too long for the node's command line: 1.0 MiB once quoted, and a node takes at most 127 KiB");
    expect(run.stderr).toContain("hint: send large data on standard input instead: hive exec --stdin -- sh -c 'cat > FILE' < LOCAL-FILE");

    const viaStdin = spawnSync(process.execPath, [HIVE_BIN, "-f", fx.hiveFile, "exec", "--on", "t1", "--stdin", "--", "sh", "-c", "wc -c > /tmp/got"], {
      input: parts.join(""),
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(viaStdin.status, viaStdin.stderr).toBe(0);
    expect((await execOnNode(lab, "t1", "cat /tmp/got")).stdout.trim()).toBe(String(16 * 64 * 1024));
  });
});
