// End-to-end: hive exec on the lab: per-node results, grouping, hostile arguments, stdin, Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { cutNetwork, execOnNode, restoreNetwork, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { HIVE_BIN, runHive } from "../cli/run-hive.js";
import { type HiveFixture, makeHiveFixture, writeHive } from "./hive-fixture.js";
import { join } from "node:path";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

interface JsonNode {
  name: string;
  result: string;
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  error: { code: string; message: string } | null;
}

function execJson(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [HIVE_BIN, "-f", fx.hiveFile, "exec", "--json", ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    encoding: "utf8",
    ...(input !== undefined ? { input } : {}),
  });
  let doc: { nodes: JsonNode[] };
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    throw new Error(`hive exec printed no JSON (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return { code: result.status, stderr: result.stderr, doc, byName: Object.fromEntries(doc.nodes.map((n) => [n.name, n])) };
}

// Each node behaves by its hostname (the lab gives every node its own).
const BEHAVIOUR = `case "$(hostname)" in
  t1) echo "hello from t1"; echo "a warning" >&2 ;;
  t2) echo "t2 fails"; exit 3 ;;
  t4) echo "t4 starts"; exec sleep 31.4159 ;;
  *) echo same ;;
esac`;

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name, tags: n.name === "t1" || n.name === "t2" ? ["server"] : ["batch"] })));
});

describe("hive exec", () => {
  afterEach(async () => {
    await restoreNetwork(lab, "t3");
  });

  it("reports each node apart: exit 0, non-zero, unreachable, timed out", async () => {
    await cutNetwork(lab, "t3");
    const started = Date.now();
    const run = execJson(["--on", "t1,t2,t3,t4", "--timeout", "2", "--", "sh", "-c", BEHAVIOUR]);
    expect(run.code).toBe(1);
    expect(run.doc.nodes.map((n) => n.name)).toEqual(["t1", "t2", "t3", "t4"]);
    expect(run.byName["t1"]).toMatchObject({ result: "succeeded", outcome: "exited", exitCode: 0, stdout: "hello from t1\n", stderr: "a warning\n", error: null });
    expect(run.byName["t2"]).toMatchObject({ result: "failed", outcome: "exited", exitCode: 3, stdout: "t2 fails\n", error: null });
    expect(run.byName["t3"]).toMatchObject({ result: "failed", outcome: "unreachable", exitCode: null });
    expect(run.byName["t3"]!.error!.code).toBe("E_SSH_CONNECT");
    expect(run.byName["t3"]!.error!.message).toContain("t3 (");
    expect(run.byName["t4"]).toMatchObject({ result: "failed", outcome: "timed-out", exitCode: null, stdout: "t4 starts\n" });
    expect(run.byName["t4"]!.error).toMatchObject({ code: "E_TIMEOUT", message: "timed out after 2s; the command was killed" });
    expect(run.byName["t4"]!.durationMs).toBeGreaterThanOrEqual(2000);
    // Everything ran at once: the slowest node (3 s connect timeout, 2 s command timeout) sets the pace.
    expect(Date.now() - started).toBeLessThan(9000);
    // The timed-out command is gone from the node, not left running.
    const left = await execOnNode(lab, "t4", "ps -eo args | grep -c '^sleep 31.4159' || true");
    expect(left.stdout.trim()).toBe("0");
  });

  it("streams `node | line`, marks stderr, and says what failed", async () => {
    const run = runHive(["-f", fx.hiveFile, "exec", "--on", "t1,t2,t5", "--", "sh", "-c", BEHAVIOUR]);
    expect(run.code).toBe(1);
    expect(run.stdout.split("\n").filter((l) => l !== "").sort()).toEqual(["t1 | hello from t1", "t2 | t2 fails", "t5 | same"]);
    expect(run.stderr).toContain("t1 ! a warning\n");
    expect(run.stderr).toContain("t2 ! [exit 3]\n");
    expect(run.stderr).toMatch(/3 nodes in [\d.]+s: 2 exit 0, 1 exit non-zero \(t2\)\n$/);
  });

  it("exits 0 when the command exits 0 everywhere", () => {
    const run = runHive(["-f", fx.hiveFile, "exec", "--", "true"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^6 nodes in [\d.]+s: 6 exit 0\n$/);
  });

  it("--group prints each distinct result once, under its nodes and their count", async () => {
    await cutNetwork(lab, "t3");
    const run = runHive(["-f", fx.hiveFile, "exec", "--group", "--", "sh", "-c", BEHAVIOUR.replace("exec sleep 31.4159", "echo same; exit 0").replace('echo "t4 starts"; ', "")]);
    expect(run.code).toBe(1);
    const blocks = run.stdout.split(/^-+\n/m).filter((b) => b !== "");
    // header, body, header, body, ... in order of each group's first node
    expect(blocks).toEqual([
      "t1 (1)\n",
      "hello from t1\n! a warning\n",
      "t2 (1): exit 3\n",
      "t2 fails\n",
      expect.stringMatching(/^t3 \(1\): unreachable: cannot connect: .+\n$/),
      "t[4-6] (3)\n",
      "same\n",
    ]);
  });

  it("passes hostile arguments byte for byte, as root and through sudo", () => {
    const hostile = ["'", '"', "$(id)", "`id`", "a\nb", "*", "", "-n", "--", "x; rm -rf /tmp/nope", "$HOME", "~", "a\\b", " spaced out ", "tab\there", "ünï €", "&& echo pwned |", ">out"];
    const run = execJson(["--on", "t1", "--", "printf", "%s\\0", ...hostile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t1"]!.stdout.split("\0").slice(0, -1)).toEqual(hostile);

    const file = join(fx.dir, "deploy.hive.ts");
    writeHive(file, lab, fx.flakeDir, [{ name: "t2", extra: { targetUser: "deploy" } }]);
    const viaSudo = spawnSync(process.execPath, [HIVE_BIN, "-f", file, "exec", "--sudo", "--json", "--", "sh", "-c", 'id -un; printf "%s\\0" "$@"', "sh", ...hostile], { encoding: "utf8" });
    expect(viaSudo.status, viaSudo.stderr).toBe(0);
    const [user, ...args] = (JSON.parse(viaSudo.stdout) as { nodes: JsonNode[] }).nodes[0]!.stdout.split(/\n|\0/);
    expect(user).toBe("root");
    expect(args.join("\0")).toBe(`${hostile.join("\0")}\0`.replace("a\nb", "a\0b"));
    const asUser = spawnSync(process.execPath, [HIVE_BIN, "-f", file, "exec", "--json", "--", "id", "-un"], { encoding: "utf8" });
    expect(JSON.parse(asUser.stdout).nodes[0].stdout).toBe("deploy\n");
  });

  it("--stdin sends standard input to every node", () => {
    const input = "line one\n'quoted' $(not run)\n\0binary-ish\n";
    const run = execJson(["--on", "t1,t5,t6", "--stdin", "--", "cat"], input);
    expect(run.code, run.stderr).toBe(0);
    for (const node of run.doc.nodes) expect(node.stdout).toBe(input);
    // Without --stdin the command sees end of input at once.
    const closed = execJson(["--on", "t1", "--", "cat"], "ignored");
    expect(closed.byName["t1"]!.stdout).toBe("");
  });

  it("Ctrl-C stops the commands, reports them interrupted and exits 130", async () => {
    const child = spawn(process.execPath, [HIVE_BIN, "-f", fx.hiveFile, "exec", "--on", "t5,t6", "--json", "--", "sh", "-c", "echo started; exec sleep 27.1828"], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    // Interrupt once the command runs on both nodes (lab nodes share the host's process table).
    for (let i = 0; i < 300; i++) {
      if (Number((await execOnNode(lab, "t5", "ps -eo args | grep -c '^sleep 27.1828' || true")).stdout.trim()) >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const started = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    expect(Date.now() - started).toBeLessThan(5000);
    const doc = JSON.parse(stdout) as { nodes: JsonNode[] };
    expect(doc.nodes.map((n) => [n.name, n.outcome, n.stdout])).toEqual([
      ["t5", "interrupted", "started\n"],
      ["t6", "interrupted", "started\n"],
    ]);
    for (const node of ["t5", "t6"]) {
      const left = await execOnNode(lab, node, "ps -eo args | grep -c '^sleep 27.1828' || true");
      expect(left.stdout.trim()).toBe("0");
    }
  });

  it("refuses a missing command with usage exit 2", () => {
    const run = runHive(["-f", fx.hiveFile, "exec"]);
    expect(run.code).toBe(2);
    expect(runHive(["-f", fx.hiveFile, "exec", "--timeout", "0", "--", "true"]).code).toBe(2);
  });
});
