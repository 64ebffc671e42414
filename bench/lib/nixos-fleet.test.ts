// The generated NixOS-shaped fleet, evaluated by the real nix: a tiny one (2 nodes, 20 modules, 150 packages).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planModules } from "./nixos-fleet-modules.js";
import { renderPackageSet, shapePackageSet } from "./nixos-fleet-packages.js";
import { setFleetVersion, writeNixosFleet, type NixosFleet } from "./nixos-fleet.js";

const env = { ...process.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command flakes" };
const nixEval = (...args: string[]) => execFileSync("nix", ["eval", ...args], { env, encoding: "utf8" });
const git = (dir: string, ...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8" }).trim();

let scratch: string;
let fleet: NixosFleet;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "hive-nixos-fleet-test-"));
  fleet = writeNixosFleet({ dir: scratch, nodes: ["web-a", "db-b"], modules: 20, packages: 150, enabledPerNode: 10, version: "7" });
}, 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("writeNixosFleet", () => {
  it("writes a committed git repository whose flake.lock pins the nixpkgs-shaped input", () => {
    expect(git(fleet.flakeDir, "status", "--porcelain")).toBe("");
    const lock = JSON.parse(readFileSync(join(fleet.flakeDir, "flake.lock"), "utf8")) as { nodes: Record<string, { locked?: { type: string; path: string; narHash: string } }> };
    expect(lock.nodes.nixpkgs?.locked).toMatchObject({ type: "path", path: fleet.nixpkgsDir });
    expect(lock.nodes.nixpkgs?.locked?.narHash).toMatch(/^sha256-/);
  });

  it("evaluates every node with the module system, to toplevels named after the node and version", () => {
    const names = JSON.parse(
      nixEval("--json", `${fleet.flakeDir}#nixosConfigurations`, "--apply", "cs: builtins.mapAttrs (n: c: c.config.system.build.toplevel.name) cs"),
    ) as Record<string, string>;
    expect(names).toEqual({ "web-a": "nixos-system-web-a-7", "db-b": "nixos-system-db-b-7" });
  });

  it("builds a toplevel offline that is a lab system, with the node's etc and units", () => {
    const drv = nixEval("--raw", `${fleet.flakeDir}#nixosConfigurations.web-a.config.system.build.toplevel.drvPath`);
    const out = execFileSync("nix-store", ["--realise", "--max-jobs", "4", drv], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    expect(readFileSync(join(out, "www", "index.html"), "utf8")).toBe("web-a 7\n");
    expect(readFileSync(join(out, "bin", "switch-to-configuration"), "utf8")).toContain("hive-lab-web.service");
    expect(readFileSync(join(out, "etc", "hostname"), "utf8")).toBe("web-a\n");
    expect(readFileSync(join(out, "etc", "os-release"), "utf8")).toContain('BUILD_ID="25.11pre-7"');
    expect(readFileSync(join(out, "units", "firewall.service"), "utf8")).toContain("[Service]");
  }, 120_000);

  it("keeps evalModules' extendModules, so modules can be added to a node afterwards", () => {
    const apply = 'c: (c.extendModules { modules = [ ({ lib, ... }: { lab.version = lib.mkForce "injected"; }) ]; }).config.system.build.toplevel.name';
    expect(nixEval("--raw", `${fleet.flakeDir}#nixosConfigurations.web-a`, "--apply", apply)).toBe("nixos-system-web-a-injected");
  });

  it("reports a failed assertion the way NixOS does", () => {
    const apply = 'c: (c.extendModules { modules = [ { users.users.x = { isSystemUser = true; isNormalUser = true; group = "users"; }; } ]; }).config.system.build.toplevel.drvPath';
    let message = "";
    try {
      nixEval("--raw", `${fleet.flakeDir}#nixosConfigurations.web-a`, "--apply", apply);
    } catch (error) {
      message = String((error as { stderr?: string }).stderr);
    }
    expect(message).toContain("Failed assertions:");
    expect(message).toContain("Exactly one of users.users.x.isSystemUser and users.users.x.isNormalUser must be set.");
  });

  it("changes every node's version with one committed line", () => {
    const before = git(fleet.flakeDir, "rev-parse", "HEAD");
    setFleetVersion(fleet.flakeDir, "8");
    expect(git(fleet.flakeDir, "rev-parse", "HEAD")).not.toBe(before);
    expect(git(fleet.flakeDir, "status", "--porcelain")).toBe("");
    expect(nixEval("--raw", `${fleet.flakeDir}#nixosConfigurations.db-b.config.system.build.toplevel.name`)).toBe("nixos-system-db-b-8");
  });
});

describe("the generated sets", () => {
  it("plans daemons, programs, hardware and services that use a daemon as their backend", () => {
    const specs = planModules(200);
    const count = (kind: string) => specs.filter((s) => s.kind === kind).length;
    expect(count("daemon")).toBe(110);
    expect(count("program")).toBe(40);
    expect(count("hardware")).toBe(30);
    expect(count("dependent")).toBe(20);
    const daemons = new Set(specs.filter((s) => s.kind === "daemon").map((s) => s.name));
    for (const spec of specs.filter((s) => s.kind === "dependent")) expect(daemons.has(spec.backend!)).toBe(true);
  });

  it("generates the same package set for the same shape, every dependency defined before its user", () => {
    const shape = shapePackageSet(300, 50);
    const first = renderPackageSet(shape);
    expect(renderPackageSet(shape)).toEqual(first);
    const listing = first.find((f) => f.path === "pkgs/top-level/all-packages.nix")!.text;
    const order = [...listing.matchAll(/^ {2}([a-z0-9-]+) = self\.callPackage/gm)].map((m) => m[1]!);
    expect(order.length).toBe(300 - shape.python);
    for (const file of first.filter((f) => f.path.startsWith("pkgs/by-name/"))) {
      const name = /pname = "([^"]+)"/.exec(file.text)![1]!;
      const args = /^\{ (.*) \}:$/m.exec(file.text)![1]!.split(", ").filter((a) => !["lib", "stdenv", "python3Packages"].includes(a));
      for (const dep of args) expect(order.indexOf(dep), `${name} needs ${dep}`).toBeLessThan(order.indexOf(name));
    }
  });
});
