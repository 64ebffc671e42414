// docs/inventory-and-vars.md's fleet is a valid hive.ts: it loads, its roles and generators resolve, its recipients parse.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRecipients } from "../../src/vars/age.js";
import { makeHiveDir, runHive } from "./run-hive.js";

const GUIDE = readFileSync(resolve(import.meta.dirname, "../../docs/inventory-and-vars.md"), "utf8");
const fleet = /```ts\n(import \{ defineHive \}[\s\S]*?)```/.exec(GUIDE)?.[1];

describe("the clan fleet of docs/inventory-and-vars.md", () => {
  it("loads, with the roles and generators the guide describes", () => {
    expect(fleet, "the guide's hive.ts block").toBeDefined();
    const dir = makeHiveDir({ "hive.ts": fleet! });
    const nodes = runHive(["nodes", "--json"], { cwd: dir });
    expect(nodes.stderr).toBe("");
    const roles = Object.fromEntries((JSON.parse(nodes.stdout) as { nodes: { name: string; roles: string[] }[] }).nodes.map((n) => [n.name, n.roles]));
    expect(roles["cinnabar"]).toEqual(["zerotier.controller"]);
    expect(roles["stibnite"]).toEqual(["zerotier.peer"]);
    expect(roles["galena"]).toEqual(["zerotier.peer", "postgres.server"]);
    expect(Object.keys(roles)).toHaveLength(8);

    const check = runHive(["vars", "check", "--json"], { cwd: dir });
    expect(check.code).toBe(1);
    const instances = (JSON.parse(check.stdout) as { vars: { generator: string; node: string | null; state: string }[] }).vars;
    expect(instances.every((i) => i.state === "missing")).toBe(true);
    expect(instances.filter((i) => i.node === null).map((i) => i.generator)).toEqual(["zerotier-controller", "zerotier-network", "db-password"]);
    expect(instances.filter((i) => i.generator === "zerotier-identity").map((i) => i.node)).toHaveLength(7);
  }, 60_000);

  it("names recipients the age library accepts", () => {
    const recipients = [...fleet!.matchAll(/^\s+"((?:age1|ssh-ed25519 )[^"]+)"/gm)].map((m) => m[1]!);
    expect(recipients).toHaveLength(2);
    expect(parseRecipients(recipients)).toHaveLength(2);
  }, 60_000);
});
