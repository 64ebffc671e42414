// End-to-end: hive history lists the generations apply created, marks the current one, joins hive's records.
import { beforeAll, describe, expect, it } from "vitest";
import { cutNetwork, restoreNetwork, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { runHive } from "../cli/run-hive.js";
import { type HiveFixture, makeHiveFixture, nodeState } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

interface JsonGeneration {
  number: number;
  date: string;
  system: string;
  current: boolean;
  profile: boolean;
  deployment: { system: string; goal: string; deployedBy: string } | null;
}

function history(on: string) {
  const run = runHive(["-f", fx.hiveFile, "history", "--on", on, "--json"]);
  let doc: { nodes: { name: string; generations: JsonGeneration[]; current: string | null; error: unknown }[] };
  try {
    doc = JSON.parse(run.stdout);
  } catch {
    throw new Error(`hive history printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, doc };
}

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name })), { version: "h0" });
});

describe("hive history", () => {
  it("lists the generations apply created, oldest first, with the current one marked", async () => {
    const before = history("t6").doc.nodes[0]!.generations;
    const deployed: string[] = [];
    for (const version of [`h1-${Date.now()}`, `h2-${Date.now()}`]) {
      await setVersion(fx.flakeDir, version);
      const apply = runHive(["-f", fx.hiveFile, "apply", "--on", "t6", "--json"]);
      expect(apply.code, apply.stderr).toBe(0);
      deployed.push(JSON.parse(apply.stdout).nodes[0].outPath);
    }
    const run = history("t6");
    expect(run.code, run.stderr).toBe(0);
    const node = run.doc.nodes[0]!;
    expect(node.name).toBe("t6");
    const generations = node.generations;
    expect(generations).toHaveLength(before.length + 2);
    const created = generations.slice(-2);
    expect(created.map((g) => g.system)).toEqual(deployed);
    expect(created.map((g) => g.number)).toEqual([(before.at(-1)?.number ?? 0) + 1, (before.at(-1)?.number ?? 0) + 2]);
    expect(generations.map((g) => g.number)).toEqual([...generations.map((g) => g.number)].sort((a, b) => a - b));
    expect(created.map((g) => [g.current, g.profile])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(generations.filter((g) => g.current)).toHaveLength(1);
    for (const g of created) {
      expect(g.deployment).toMatchObject({ system: g.system, goal: "switch" });
      expect(Math.abs(Date.now() - Date.parse(g.date))).toBeLessThan(10 * 60_000);
    }
    const state = await nodeState(lab, "t6");
    expect(node.current).toBe(state.current);
    expect(created[1]!.number).toBe(state.generation);

    const text = runHive(["-f", fx.hiveFile, "history", "--on", "t6"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NODE\s+GEN\s+DATE\s+SYSTEM\s+STATE\s+DEPLOYED-BY\s+GOAL$/m);
    expect(text.stdout).toMatch(new RegExp(`^t6\\s+${created[1]!.number}\\s+\\S+Z\\s+[0-9a-z]{8}-nixos-system-t6-h2-\\d+\\s+current\\s+root@\\S+\\s+switch$`, "m"));
  });

  it("needs --on, and fails for an unreachable node", async () => {
    const run = runHive(["-f", fx.hiveFile, "history"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("hive history needs --on NODE");
    await cutNetwork(lab, "t5");
    try {
      const cut = history("t5");
      expect(cut.code).toBe(1);
      expect(cut.doc.nodes[0]).toMatchObject({ name: "t5", generations: [], error: { code: "E_SSH_CONNECT" } });
    } finally {
      await restoreNetwork(lab, "t5");
    }
  });
});
