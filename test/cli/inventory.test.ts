// `hive nodes` with an inventory: roles in the table and JSON, `--on %service.role`, and errors naming the role.
import { describe, expect, it } from "vitest";
import { makeHiveDir, runHive } from "./run-hive.js";

const HIVE = `import { defineHive } from "nix-hive";
export default defineHive({
  nodes: {
    cinnabar: { targetHost: "10.0.0.1", tags: ["server"] },
    galena: { targetHost: "10.0.0.2", tags: ["server"] },
    stibnite: { targetHost: "10.0.0.3", tags: ["desk"] },
  },
  inventory: {
    zerotier: { controller: "cinnabar", peer: ["@server", "stibnite"] },
    backup: { server: "galena" },
  },
});
`;

describe("hive nodes with an inventory", () => {
  it("shows each node's roles in the table and in --json", () => {
    const dir = makeHiveDir({ "hive.ts": HIVE });
    const table = runHive(["nodes"], { cwd: dir });
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+HOST\s+PORT\s+USER\s+TAGS\s+ROLES\s+BUILD-ON-TARGET$/);
    expect(lines[1]).toMatch(/^cinnabar\s+10\.0\.0\.1\s+22\s+root\s+@server\s+%zerotier\.controller %zerotier\.peer\s+no$/);
    expect(lines[2]).toMatch(/^galena\s+.*@server\s+%zerotier\.peer %backup\.server\s+no$/);

    const json = runHive(["nodes", "--json"], { cwd: dir });
    expect(JSON.parse(json.stdout).nodes.map((n: { name: string; roles: string[] }) => [n.name, n.roles])).toEqual([
      ["cinnabar", ["zerotier.controller", "zerotier.peer"]],
      ["galena", ["zerotier.peer", "backup.server"]],
      ["stibnite", ["zerotier.peer"]],
    ]);
  }, 60_000);

  it("selects by role with --on %service.role, alone or with tags and names", () => {
    const dir = makeHiveDir({ "hive.ts": HIVE });
    const names = (selector: string) => JSON.parse(runHive(["nodes", "--on", selector, "--json"], { cwd: dir }).stdout).nodes.map((n: { name: string }) => n.name);
    expect(names("%zerotier.controller")).toEqual(["cinnabar"]);
    expect(names("%zerotier")).toEqual(["cinnabar", "galena", "stibnite"]);
    expect(names("%zerotier.peer&!%zerotier.controller&@server")).toEqual(["galena"]);
    const typo = runHive(["nodes", "--on", "%zerotier.contoller"], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('error: no node has the role "%zerotier.contoller"; did you mean "%zerotier.controller"?');
  }, 60_000);

  it("exits 2 naming the service and role of an unknown node or an empty role", () => {
    const dir = makeHiveDir({
      "hive.ts": HIVE.replace('controller: "cinnabar"', 'controller: "cinabar"').replace('server: "galena"', 'server: "@server&@desk"'),
    });
    const run = runHive(["nodes"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('error: hive.ts: inventory.zerotier.controller: no node or tag matches "cinabar"; did you mean "cinnabar"?');
    expect(run.stderr).toContain('error: hive.ts: inventory.backup.server: the role is empty: selector "@server&@desk" matches no node');
  }, 60_000);
});
