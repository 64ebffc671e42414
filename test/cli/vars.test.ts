// `hive vars` as users run it: generate, check (exit 1 for cron and CI), list, --json, and bad hive.ts vars.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeHiveDir, runHive } from "./run-hive.js";

function keygen(dir: string): string {
  spawnSync("age-keygen", ["-o", join(dir, "id.key")]);
  return spawnSync("age-keygen", ["-y", join(dir, "id.key")], { encoding: "utf8" }).stdout.trim();
}

const hiveTs = (recipient: string, extra = "") => `import { defineHive } from "nix-hive";
export default defineHive({
  nodes: { a: { tags: ["db"] }, b: {} },
  vars: {
    recipients: [${JSON.stringify(recipient)}],
    generators: {
      "ssh-host": { command: ["sh", "-c", 'ssh-keygen -q -t ed25519 -N "" -f "$out/ed25519"'], files: { ed25519: {}, "ed25519.pub": { secret: false } } },
      db: { share: true, on: "@db", description: "postgres", command: ["sh", "-c", 'echo s3cret-$$ > "$out/password"'], files: { password: {} } },
      ${extra}
    },
  },
});
`;

function fleet(extra = "") {
  const dir = makeHiveDir({});
  const recipient = keygen(dir);
  writeFileSync(join(dir, "hive.ts"), hiveTs(recipient, extra));
  return { dir, env: { HIVE_AGE_IDENTITY: join(dir, "id.key"), HOME: dir, XDG_RUNTIME_DIR: "" } };
}

// Each test runs hive several times: seconds each on a loaded machine.
const SLOW = 60_000;

describe("hive vars", () => {
  it("check exits 1 while files are missing, generate makes them, then check exits 0", () => {
    const { dir, env } = fleet();
    const before = runHive(["vars", "check"], { cwd: dir, env });
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^ssh-host\s+a\s+missing\s+never generated$/m);

    const generate = runHive(["vars", "generate"], { cwd: dir, env });
    expect(generate.code, generate.stderr).toBe(0);
    expect(generate.stdout).toMatch(/^db\s+\(shared\)\s+generated/m);
    expect(generate.stderr).toMatch(/^ssh-host for b +\| generated$/m);

    const check = runHive(["vars", "check", "--json"], { cwd: dir, env });
    expect(check.code).toBe(0);
    const doc = JSON.parse(check.stdout) as { ok: boolean; vars: { generator: string; node: string | null; state: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.vars.map((v) => [v.generator, v.node, v.state])).toEqual([
      ["ssh-host", "a", "ok"],
      ["ssh-host", "b", "ok"],
      ["db", null, "ok"],
    ]);
  }, SLOW);

  it("lists public values, never secret ones, in the table and in JSON", () => {
    const { dir, env } = fleet();
    expect(runHive(["vars", "generate"], { cwd: dir, env }).code).toBe(0);
    const secret = spawnSync("age", ["-d", "-i", join(dir, "id.key"), join(dir, "vars/shared/db/password.age")], { encoding: "utf8" }).stdout;
    expect(secret).toMatch(/^s3cret-\d+\n$/);
    const pub = readFileSync(join(dir, "vars/nodes/a/ssh-host/ed25519.pub"), "utf8");
    const table = runHive(["vars", "list"], { cwd: dir, env });
    expect(table.stdout).toMatch(/^db\s+\(shared: a\)\s+password\s+secret\s+ok$/m);
    expect(table.stdout).toContain(pub.slice(0, 40));
    const json = runHive(["vars", "list", "--json"], { cwd: dir, env });
    const files = (JSON.parse(json.stdout) as { vars: { files: { name: string; value?: string }[] }[] }).vars.flatMap((v) => v.files);
    expect(files.find((f) => f.name === "ed25519.pub")!.value).toBe(pub);
    for (const run of [table, json]) expect(run.stdout + run.stderr).not.toContain(secret.trim());
  }, SLOW);

  it("--on limits generate to a node's generators and the shared ones it has", () => {
    const { dir, env } = fleet();
    const run = runHive(["vars", "generate", "--on", "b", "--json"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { vars: { generator: string; node: string | null }[] }).vars.map((v) => [v.generator, v.node])).toEqual([["ssh-host", "b"]]);
  }, SLOW);

  it("exits 1 naming the generator whose command fails, with its standard error", () => {
    const { dir, env } = fleet(`broken: { command: ["sh", "-c", "echo 'no entropy today' >&2; exit 4"], files: { x: {} } },`);
    const run = runHive(["vars", "generate"], { cwd: dir, env });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^broken\s+a\s+failed\s+broken for a: command sh -c .* exited 4: no entropy today; nothing was stored$/m);
    expect(run.stderr).toContain("broken for a failed; last lines of its standard error:\n  no entropy today");
    expect(run.stdout).toMatch(/^db\s+\(shared\)\s+generated/m);
  }, SLOW);

  it("exits 2 on a dependency cycle, or secrets without recipients, before running anything", () => {
    const { dir, env } = fleet(`x: { dependencies: ["y"], command: ["true"], files: { f: {} } }, y: { dependencies: ["x"], command: ["true"], files: { f: {} } },`);
    const cycle = runHive(["vars", "generate"], { cwd: dir, env });
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toContain("error: hive.ts: vars.generators: dependency cycle x -> y -> x");
    writeFileSync(join(dir, "hive.ts"), hiveTs("").replace('recipients: [""]', "recipients: []"));
    const none = runHive(["vars", "check"], { cwd: dir, env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error: hive.ts: vars.recipients: no recipients, so the secret files of ssh-host, db could be encrypted for no one");
  }, SLOW);

  it("prints one node's config.hive data with nodes --nix-data, and refuses several nodes", () => {
    const { dir, env } = fleet();
    runHive(["vars", "generate"], { cwd: dir, env });
    const data = JSON.parse(runHive(["nodes", "--on", "a", "--nix-data"], { cwd: dir, env }).stdout);
    expect(data).toMatchObject({ name: "a", tags: ["db"], vars: { "ssh-host": { "ed25519.pub": readFileSync(join(dir, "vars/nodes/a/ssh-host/ed25519.pub"), "utf8") } } });
    expect(Object.keys(data.keys)).toEqual(["ssh-host/ed25519", "db/password"]);
    const several = runHive(["nodes", "--nix-data"], { cwd: dir, env });
    expect(several.code).toBe(2);
    expect(several.stderr).toContain("error: --nix-data prints one node's data; the selection has 2 nodes");
  }, SLOW);
});
