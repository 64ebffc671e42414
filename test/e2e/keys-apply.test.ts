// End-to-end: keys during hive apply on the lab: pre- and post-activation order, --no-keys, stale keys, failing sources.
import { readFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseHiveJson, runHive } from "../cli/run-hive.js";
import { nodePaths } from "../lab/lab-layout.js";
import { execOnNode, rebootNode, setNodeKnobs, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type FixtureNode, type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

interface ApplyJson {
  goal: string;
  nodes: { name: string; result: string; outPath: string | null; error: { code: string; message: string } | null }[];
}

function apply(args: string[]) {
  return parseHiveJson<ApplyJson>(runHive(["-f", fx.hiveFile, "apply", ...args, "--json"]));
}

async function onNode(node: string, command: string): Promise<string> {
  const result = await execOnNode(lab, node, command);
  if (result.exitCode !== 0) throw new Error(`${command} on ${node} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/** Modification times (seconds, ns precision) of the given paths on the node; symlinks themselves, not their targets. */
async function mtimes(node: string, paths: string[]): Promise<number[]> {
  return (await onNode(node, `stat -c %.9Y ${paths.join(" ")}`)).trim().split("\n").map(Number);
}

const logins = (node: string) => (readFileSync(nodePaths(lab, node).sshdLog, "utf8").match(/Accepted publickey/g) ?? []).length;

function writeNodes(nodes: FixtureNode[]): void {
  writeHive(fx.hiveFile, lab, fx.flakeDir, nodes);
}

const version = (tag: string) => `${tag}-${Date.now()}`;

/** Places keys with `hive upload-keys`, which needs no apply. */
function placeKeys(node: string): void {
  const run = runHive(["-f", fx.hiveFile, "upload-keys", "--on", node]);
  if (run.code !== 0) throw new Error(`hive upload-keys failed:\n${run.stderr}`);
}

const PRE_AND_POST = { pre: { text: "pre 1\n" }, post: { text: "post 1\n", uploadAt: "post-activation" } };

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, []);
  for (const node of ["t5", "t6"]) await execOnNode(lab, node, "rm -rf /run/keys /nix/var/hive/keys");
});

describe("keys during hive apply", () => {
  afterEach(async () => {
    if (fx) await setNodeKnobs(fx.flakeDir, "t6", {});
  });

  it("uploads pre-activation keys before activation and post-activation keys after it", async () => {
    await setVersion(fx.flakeDir, version("order"));
    // The lab system sleeps 1 s in activation before it points /run/current-system at itself.
    await setNodeKnobs(fx.flakeDir, "t6", { activationSleep: 1 });
    writeNodes([{ name: "t6", extra: { keys: PRE_AND_POST } }]);
    const run = apply(["--on", "t6"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t6"]!.result).toBe("succeeded");
    expect((await nodeState(lab, "t6")).current).toBe(run.byName["t6"]!.outPath);

    const [pre, activated, post] = await mtimes("t6", ["/run/keys/pre", "/run/current-system", "/run/keys/post"]);
    expect(activated! - pre!).toBeGreaterThan(0.9);
    expect(post!).toBeGreaterThan(activated!);
    expect(await onNode("t6", "cat /run/keys/pre /run/keys/post")).toBe("pre 1\npost 1\n");
  });

  it("leaves keys alone with --no-keys", async () => {
    writeNodes([{ name: "t6", extra: { keys: PRE_AND_POST } }]);
    placeKeys("t6");
    await setVersion(fx.flakeDir, version("nokeys"));
    writeNodes([{ name: "t6", extra: { keys: { pre: { text: "pre 2\n" } } } }]);
    const run = apply(["--on", "t6", "--no-keys"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t6"]!.result).toBe("succeeded");
    expect(await onNode("t6", "cat /run/keys/pre /run/keys/post")).toBe("pre 1\npost 1\n");
  });

  it("updates keys and removes a key dropped from hive.ts even when the system is unchanged", async () => {
    writeNodes([{ name: "t6", extra: { keys: PRE_AND_POST } }]);
    placeKeys("t6");
    expect(apply(["--on", "t6", "--no-keys"]).code).toBe(0); // the system is now what hive.ts wants
    writeNodes([{ name: "t6", extra: { keys: { pre: { text: "pre 2\n" } } } }]);
    const run = apply(["--on", "t6"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t6"]!.result).toBe("succeeded");
    expect(await onNode("t6", "cat /run/keys/pre")).toBe("pre 2\n");
    expect((await execOnNode(lab, "t6", "test -e /run/keys/post")).exitCode).not.toBe(0);

    const again = apply(["--on", "t6"]);
    expect(again.byName["t6"]!.result).toBe("unchanged");
  });

  it("puts back the keys a reboot took from an unchanged system", async () => {
    writeNodes([{ name: "t6", extra: { keys: { pre: { text: "pre 2\n" } } } }]);
    await rebootNode(lab, "t6");
    expect((await execOnNode(lab, "t6", "test -e /run/keys/pre")).exitCode).not.toBe(0);
    const run = apply(["--on", "t6"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.byName["t6"]!.result).toBe("succeeded");
    expect(await onNode("t6", "cat /run/keys/pre")).toBe("pre 2\n");
  });

  it("fails a node whose key source fails before anything on it changes: no push, no activation", async () => {
    await setVersion(fx.flakeDir, version("badkey"));
    writeNodes([{ name: "t5", extra: { keys: { ok: { text: "ok\n" }, bad: { command: ["sh", "-c", "echo 'pass: no such entry' >&2; exit 1"] } } } }]);
    const before = await nodeState(lab, "t5");
    const loginsBefore = logins("t5");
    const run = apply(["--on", "t5"]);
    expect(run.code).toBe(1);
    expect(run.byName["t5"]!.result).toBe("failed");
    expect(run.byName["t5"]!.error).toMatchObject({ code: "E_KEY_SOURCE", message: expect.stringMatching(/^key bad: command sh -c .* exited 1: pass: no such entry/) });
    expect(await nodeState(lab, "t5")).toEqual(before);
    expect((await execOnNode(lab, "t5", `nix-store --check-validity ${run.byName["t5"]!.outPath}`)).exitCode).not.toBe(0);
    expect((await execOnNode(lab, "t5", "test -e /run/keys/ok")).exitCode).not.toBe(0);
    expect(logins("t5")).toBe(loginsBefore);
  });
});
