// End-to-end: hive.ts mistakes JavaScript hides, and a full /nix on a node, each end in a message that says what happened.
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHiveJson, runHive } from "../cli/run-hive.js";
import { nodePaths } from "../lab/lab-layout.js";
import { execOnNode, resetNode, setNodeKnobs, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { type HiveFixture, makeHiveFixture, nodeState } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

const logins = (node: string) => (readFileSync(nodePaths(lab, node).sshdLog, "utf8").match(/Accepted publickey/g) ?? []).length;

/** The fixture's hive.ts with its `export default` replaced by `body` (the fleet is `fleet`). */
function writeHiveBody(body: string): void {
  const original = readFileSync(`${fx.dir}/hive.original.ts`, "utf8");
  writeFileSync(fx.hiveFile, original.replace(/^export default /m, "const fleet = ") + body);
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, [{ name: "t5" }, { name: "t4" }]);
  writeFileSync(`${fx.dir}/hive.original.ts`, readFileSync(fx.hiveFile, "utf8"));
});

afterAll(async () => {
  if (lab) await resetNode(lab, "t4");
});

describe("hive.ts that JavaScript would let through wrongly", () => {
  const cases: { what: string; body: string; message: string }[] = [
    {
      what: "a null default export",
      body: "\nexport default null;\n",
      message: "error: hive.ts: the default export must be an object with `nodes` (use `export default defineHive({ ... })`), got null",
    },
    {
      what: "a top-level await that never settles",
      body: "\nawait new Promise(() => {});\nexport default fleet;\n",
      message: "error: hive.ts: a top-level await in it never settles (the promise it waits for can no longer resolve or reject), so hive.ts never finished loading",
    },
    {
      what: "a node named __proto__ in an object literal",
      body: '\nexport default { ...fleet, nodes: { ...fleet.nodes, __proto__: { targetHost: "10.0.0.1" } } };\n',
      message: 'error: hive.ts: nodes: `__proto__: { ... }` in an object literal sets the prototype instead of adding a node named "__proto__"; rename it',
    },
    {
      what: "a node named __proto__ as an own key",
      body: '\nexport default { ...fleet, nodes: { ...fleet.nodes, ["__proto__"]: { targetHost: "10.0.0.1" } } };\n',
      message: 'error: hive.ts: nodes.__proto__: "__proto__" cannot be a node name (JavaScript treats it as the object\'s prototype); rename it',
    },
  ];
  for (const { what, body, message } of cases) {
    it(`refuses ${what} with exit 2 and a message that says so, touching no node`, async () => {
      writeHiveBody(body);
      const before = { state: await nodeState(lab, "t5"), logins: logins("t5") };
      const run = runHive(["-f", fx.hiveFile, "apply", "--on", "t5"]);
      expect({ state: await nodeState(lab, "t5"), logins: logins("t5") }).toEqual(before);
      expect(run.stderr.split("\n")).toContain(message);
      expect(run.code).toBe(2);
    });
  }
});

describe("a node whose /nix is full", () => {
  it("fails the push, leaves the node's system as it was, and says a partial path may need nix-store --gc", async () => {
    writeFileSync(fx.hiveFile, readFileSync(`${fx.dir}/hive.original.ts`, "utf8"));
    const before = await nodeState(lab, "t4");
    await setVersion(fx.flakeDir, "full");
    await setNodeKnobs(fx.flakeDir, "t4", { payloadKiB: 1024 });
    // A store with 256 KiB free: the system's paths cannot all fit.
    const mounted = await execOnNode(lab, "t4", "mount -t tmpfs -o size=256k hive-e2e-full /nix/store");
    expect(mounted.exitCode, mounted.stderr).toBe(0);
    try {
      const run = parseHiveJson<{ nodes: { name: string; result: string; error: { code: string; message: string } | null }[] }>(
        runHive(["-f", fx.hiveFile, "apply", "--on", "t4", "--json"]),
      );
      expect(await nodeState(lab, "t4")).toEqual(before);
      expect(run.code).toBe(1);
      expect(run.byName["t4"]!.error!.code).toBe("E_PUSH");
      expect(run.byName["t4"]!.error!.message).toMatch(/No space left on device/);
      expect(run.byName["t4"]!.error!.message).toContain(
        "; the node's /nix is full: free space there (e.g. nix-collect-garbage), and run `nix-store --gc` on the node, since a path copied in part may be left behind",
      );
    } finally {
      await execOnNode(lab, "t4", "umount /nix/store");
    }
  });
});
