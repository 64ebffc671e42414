import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { HIVE_BIN, makeHiveDir, runHive } from "./run-hive.js";

const fleet = readFileSync(resolve(import.meta.dirname, "../fixtures/fleet.hive.ts"), "utf8");
const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };

describe("hive nodes", () => {
  it("loads a typed hive.ts importing nix-hive from a directory without node_modules", () => {
    const dir = makeHiveDir({ "hive.ts": fleet });
    const run = runHive(["nodes"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+HOST\s+PORT\s+USER\s+TAGS\s+BUILD-ON-TARGET$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ["web-1", "10.0.0.1", "22", "deploy"],
      ["web-2", "10.0.0.2", "2222", "deploy"],
      ["db-1", "10.0.0.3", "22", "root"],
      ["worker-1", "10.0.1.1", "22", "deploy"],
      ["worker-2", "10.0.1.2", "22", "deploy"],
      ["worker-3", "10.0.1.3", "22", "deploy"],
    ]);
    expect(lines[2]).toMatch(/@managed @server @us\s+yes$/);
  });

  it("prints only { nodes } as JSON with --json, in hive.ts order", () => {
    const dir = makeHiveDir({ "hive.ts": fleet });
    const run = runHive(["nodes", "--on", "@eu,web-2", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { nodes: Record<string, unknown>[] };
    expect(Object.keys(doc)).toEqual(["nodes"]);
    expect(doc.nodes.map((n) => n["name"])).toEqual(["web-1", "web-2", "db-1", "worker-1"]);
    expect(doc.nodes[1]).toEqual({
      name: "web-2",
      targetHost: "10.0.0.2",
      targetPort: 2222,
      targetUser: "deploy",
      tags: ["managed", "server", "us"],
      roles: [],
      buildOnTarget: true,
      system: "nixosConfigurations.web-2.config.system.build.toplevel",
      profile: "/nix/var/nix/profiles/system",
    });
  });

  it("works with a plain-object hive.ts that imports nothing, via the introspect alias", () => {
    const dir = makeHiveDir({ "hive.ts": "export default { nodes: { solo: { tags: ['x'] } } };\n" });
    const run = runHive(["introspect", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).nodes).toMatchObject([{ name: "solo", targetHost: "solo", targetPort: 22, targetUser: "root" }]);
  });

  it("finds hive.ts, then hive.js, then hive.mjs, from the current directory upward", () => {
    const dir = makeHiveDir({
      "hive.mjs": "export default { nodes: { from_mjs: {} } };\n",
      "hive.js": "export default { nodes: { from_js: {} } };\n",
    });
    mkdirSync(join(dir, "a", "b"), { recursive: true });
    const names = () => JSON.parse(runHive(["nodes", "--json"], { cwd: join(dir, "a", "b") }).stdout).nodes.map((n: { name: string }) => n.name);
    expect(names()).toEqual(["from_js"]);
    writeFileSync(join(dir, "a", "hive.ts"), "export default { nodes: { from_ts: {} } };\n");
    expect(names()).toEqual(["from_ts"]);
  });

  it("uses -f/--config over the search", () => {
    const dir = makeHiveDir({ "hive.ts": fleet, "other.ts": "export default { nodes: { other: {} } };\n" });
    const run = runHive(["-f", "other.ts", "nodes", "--json"], { cwd: dir });
    expect(JSON.parse(run.stdout).nodes.map((n: { name: string }) => n.name)).toEqual(["other"]);
    expect(runHive(["nodes", "--config", join(dir, "other.ts"), "--json"]).code).toBe(0);
  });

  it("honours ~/.ssh/config for host, port and user the hive.ts leaves out", () => {
    const home = makeHiveDir({});
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh", "config"), "Host alpha\n  HostName 192.0.2.7\n  Port 2022\n  User ops\nHost *\n  User fallback\n");
    const dir = makeHiveDir({ "hive.ts": "export default { nodes: { alpha: {}, beta: { targetUser: 'root' }, gamma: {} } };\n" });
    const run = runHive(["nodes", "--json"], { cwd: dir, env: { HOME: home } });
    expect(JSON.parse(run.stdout).nodes.map((n: Record<string, unknown>) => [n["targetHost"], n["targetPort"], n["targetUser"]])).toEqual([
      ["192.0.2.7", 2022, "ops"],
      ["beta", 22, "root"],
      ["gamma", 22, "fallback"],
    ]);
  });

  it("colours only when asked or on a TTY: NO_COLOR and FORCE_COLOR are respected", () => {
    const dir = makeHiveDir({ "hive.ts": fleet });
    expect(runHive(["nodes"], { cwd: dir }).stdout).not.toContain("\u001b[");
    expect(runHive(["nodes"], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: "1" } }).stdout).toContain("\u001b[");
    expect(runHive(["nodes"], { cwd: dir, env: { NO_COLOR: "1", FORCE_COLOR: "1" } }).stdout).not.toContain("\u001b[");
  });

  it("selects right on a generated 1000-node hive", () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => `"web-${i + 1}": { targetHost: "10.9.${Math.floor(i / 250)}.${i % 250}", tags: [${i % 3 === 0 ? '"server"' : '"batch"'}] }`);
    const dir = makeHiveDir({ "hive.ts": `export default { nodes: {\n${nodes.join(",\n")}\n} };\n` });
    const run = runHive(["nodes", "--on", "@server&!web-1*", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    const expected = Array.from({ length: 1000 }, (_, i) => i)
      .filter((i) => i % 3 === 0 && !`web-${i + 1}`.startsWith("web-1"))
      .map((i) => `web-${i + 1}`);
    const got = JSON.parse(run.stdout).nodes.map((n: { name: string }) => n.name);
    expect(got).toEqual(expected);
    expect(got.length).toBe(294); // counted independently: 334 servers, 40 named web-1*
  });
});

describe("errors and exit codes", () => {
  it("exits 2 naming the selector's closest tag", () => {
    const dir = makeHiveDir({ "hive.ts": fleet });
    const run = runHive(["nodes", "--on", "@sever"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('error: no node or tag matches "@sever"; did you mean "@server"?');
  });

  it("exits 2 on an empty selector term", () => {
    const run = runHive(["nodes", "--on", "web-1,,db-1"], { cwd: makeHiveDir({ "hive.ts": fleet }) });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("term 2 is empty");
  });

  it("exits 2 with file, node and dotted path for an invalid hive.ts", () => {
    const dir = makeHiveDir({ "hive.ts": 'export default { nodes: { web1: { targetPort: "22x", tag: ["a"] } } };\n' });
    const run = runHive(["nodes"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('error: hive.ts: nodes.web1.targetPort: expected an integer 1-65535, got "22x"');
    expect(run.stderr).toContain('error: hive.ts: nodes.web1.tag: unknown setting; did you mean "tags"?');
  });

  it("reports a hive.ts that does not compile with file and line", () => {
    const dir = makeHiveDir({ "hive.ts": "const a: number = 1;\nexport default {\n  nodes: { web1: {} ,\n};\n" });
    const run = runHive(["nodes"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: hive\.ts:4:\d+: hive\.ts does not compile: /);
  });

  it("reports a hive.ts that throws with file and line", () => {
    const dir = makeHiveDir({ "hive.ts": "\n\nfunction inventory(): never {\n  throw new Error('inventory service down');\n}\nexport default { nodes: inventory() };\n" });
    const run = runHive(["nodes"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: hive\.ts:4:\d+: hive\.ts threw: inventory service down/);
    expect(run.stderr).not.toMatch(/at .*jiti/);
  });

  it("shows the stack with --debug", () => {
    const dir = makeHiveDir({ "hive.ts": "throw new Error('boom');\n" });
    const run = runHive(["--debug", "nodes"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cause: Error: boom\n\s+at /);
  });

  it("exits 2 when no hive.ts is found", () => {
    const run = runHive(["nodes"], { cwd: makeHiveDir({}) });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: no hive\.ts, hive\.js, hive\.mjs found in .* or any parent directory/);
  });

  it("exits 2 on an unknown command or option", () => {
    expect(runHive(["nodez"]).code).toBe(2);
    expect(runHive(["nodez"]).stderr).toContain("(Did you mean nodes?)");
    expect(runHive(["nodes", "--jsno"]).code).toBe(2);
  });
});

describe("version and help", () => {
  it("prints the package version", () => {
    const run = runHive(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(pkg.version);
  });

  it("has help with selector grammar and exit codes, and examples per command", () => {
    const top = runHive(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("'@server&!@eu'");
    expect(top.stdout).toContain("Exit codes: 0 success, 1 failed on at least one node, 2 invalid usage");
    const nodes = runHive(["nodes", "--help"]);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toContain("Examples:");
    expect(nodes.stdout).toContain("hive nodes --on @server");
  });
});

describe("apply refuses without a selection when meta.allowApplyAll is false", () => {
  it("exits 2 and says why, before touching anything", () => {
    const dir = makeHiveDir({ "hive.ts": "export default { meta: { allowApplyAll: false, flake: '/nonexistent' }, nodes: { a: {}, b: {} } };\n" });
    const run = runHive(["apply"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: hive.ts sets meta.allowApplyAll = false: hive apply switch on every node needs an explicit selection");
    expect(run.stderr).toContain("hint: pass --on SELECTOR");
    expect(run.stdout).toBe("");
  });

  it("rejects an unknown goal with a suggestion", () => {
    const run = runHive(["apply", "swich"], { cwd: makeHiveDir({ "hive.ts": "export default { nodes: { a: {} } };\n" }) });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown goal "swich"; did you mean "switch"?');
  });
});

it("stops quietly when its reader leaves early (hive nodes | head -1)", () => {
  const nodes = Array.from({ length: 3000 }, (_, i) => `"n${i}": {}`).join(",\n");
  const dir = makeHiveDir({ "hive.ts": `export default { nodes: {\n${nodes}\n} };\n` });
  const run = spawnSync("sh", ["-c", `node ${JSON.stringify(HIVE_BIN)} nodes | head -1`], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  expect(run.stdout).toMatch(/^NAME\s+HOST/);
  expect(run.stderr).not.toMatch(/EPIPE|Error/);
});

describe("hive apply --plan", () => {
  it("prints the demo fleet's plan as JSON, touching no node (none of them exists here)", () => {
    const repo = resolve(import.meta.dirname, "../..");
    const run = runHive(["-f", resolve(repo, "hive.ts"), "apply", "--on", "@server", "--batch-size", "1", "--plan", "--json"], { cwd: repo });
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { goal: string; flake: string; batches: string[][]; nodes: { name: string; targetHost: string; healthChecks: string[]; decisionWindow: number }[] };
    expect(plan.goal).toBe("switch");
    expect(plan.flake).toBe(resolve(repo, "lab"));
    expect(plan.batches).toEqual([["web-1"], ["web-2"]]);
    expect(plan.nodes.map((n) => [n.name, n.targetHost, n.healthChecks])).toEqual([
      ["web-1", "10.78.1.1", ["web"]],
      ["web-2", "10.78.1.2", ["web"]],
    ]);
    // The dead-man window covers the health check: confirmTimeout 30 + the web check's deadline 20.
    expect(plan.nodes[0]!.decisionWindow).toBe(50);
    const text = runHive(["-f", resolve(repo, "hive.ts"), "apply", "--on", "@server", "--plan"], { cwd: repo });
    expect(text.stdout).toMatch(/^BATCH\s+NODE\s+HOST/m);
    expect(text.stdout).toMatch(/^1\s+web-1\s+10\.78\.1\.1\s+here\s+50s\s+yes\s+web$/m);
  });
});
