// nixosModules.hive in the real module system: nixpkgs' lib.evalModules, evaluated by nix-instantiate.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { validateHive } from "../config/validate.js";
import { nixString } from "./attr-path.js";
import { HIVE_MODULE_FILE, configurationPath, hiveSystemExpression, hiveSystemFunction, nodeDataExpression } from "./hive-module.js";
import { buildNodeData } from "../fleet/node-data.js";

import { NIXPKGS_LIB } from "../../test/support/nixpkgs-lib.js";
const NIX_ENV = { ...process.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command flakes" };

/** A public file that tries everything to escape its string: interpolation, quotes, backslashes, newlines. */
const NASTY = "ssh-ed25519 AAAA ${builtins.abort \"escaped\"} \"q\" \\ '' \n\u00e9\n";

const hive = validateHive(
  {
    nodes: {
      cinnabar: { targetHost: "10.0.0.1", tags: ["server", "eu"] },
      stibnite: { tags: ["desk"], targetUser: "ops", targetPort: 2222 },
    },
    inventory: { zerotier: { controller: "cinnabar", peer: "@server,stibnite" } },
    vars: {
      recipients: ["age1h5wa9cgaxzxd3eaxer8ufmm6sp9s0w67na55xwzmmxgvv5je2dxqgzvrz5"],
      generators: {
        "ssh-host": { command: ["true"], files: { ed25519: { permissions: "0400" }, "ed25519.pub": { secret: false } } },
        zerotier: { share: true, on: "%zerotier", command: ["true"], files: { network: { secret: false } } },
      },
    },
  },
  "/fleet/hive.ts",
  () => ({ identityFiles: [] }),
);
const publicVars = new Map([
  ["cinnabar", { "ssh-host": { "ed25519.pub": NASTY }, zerotier: { network: "8056c2e21c000001" } }],
  ["stibnite", { "ssh-host": { "ed25519.pub": null }, zerotier: { network: "8056c2e21c000001" } }],
]);
const dataOf = (node: string) => nodeDataExpression(buildNodeData(hive, hive.nodes.find((n) => n.name === node)!, publicVars));

/** A NixOS-shaped base: the toplevel is whatever `probe` says, so tests read config through it. */
const BASE = `{ lib, config, ... }: {
  options.system.build.toplevel = lib.mkOption { type = lib.types.unspecified; };
  options.probe = lib.mkOption { type = lib.types.unspecified; };
  config.system.build.toplevel = config.probe;
}`;

/** Evaluates `expr` (with `lib`, `base` and `hiveModule` in scope) to JSON, or returns Nix's error. */
function evaluate(expr: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const full = `let lib = import (/. + ${nixString(NIXPKGS_LIB)}); base = ${BASE}; hiveModule = import (/. + ${nixString(HIVE_MODULE_FILE)}); in ${expr}`;
  const result = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", full], { encoding: "utf8", env: NIX_ENV });
  if (result.error) throw result.error;
  return result.status === 0 ? { ok: true, value: JSON.parse(result.stdout) } : { ok: false, error: result.stderr };
}

/** The toplevel of a configuration made by evalModules from `modules`, with hive's data for `node` injected. */
function systemOf(node: string, probe: string, configuration = `lib.evalModules { modules = [ base ({ config, lib, ... }: { probe = ${probe}; }) ]; }`) {
  return evaluate(hiveSystemExpression(configuration, dataOf(node), `nixosConfigurations.${node}`));
}

describe("nixosModules.hive in lib.evalModules", () => {
  it("has the nixpkgs lib to test with", () => {
    expect(existsSync(resolve(NIXPKGS_LIB, "default.nix")), `no nixpkgs lib at ${NIXPKGS_LIB}; set HIVE_NIXPKGS_LIB`).toBe(true);
  });

  it("gives the node its own facts, every node's, the inventory and keys, with Nix types", () => {
    const result = systemOf(
      "cinnabar",
      `{
        inherit (config.hive) name tags targetHost targetPort targetUser roles inventory;
        types = map builtins.typeOf [ config.hive.tags config.hive.targetPort config.hive.nodes.stibnite.targetPort config.hive.roles ];
        peerTags = config.hive.nodes.stibnite.tags;
        peerUser = config.hive.nodes.stibnite.targetUser;
        controllerHost = config.hive.nodes.\${builtins.head config.hive.inventory.zerotier.controller}.targetHost;
        isController = builtins.elem "zerotier.controller" config.hive.roles;
        nodeNames = builtins.attrNames config.hive.nodes;
        hostKey = config.hive.keys."ssh-host/ed25519";
        keyNames = builtins.attrNames config.hive.keys;
      }`,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        name: "cinnabar",
        tags: ["server", "eu"],
        targetHost: "10.0.0.1",
        targetPort: null,
        targetUser: null,
        roles: ["zerotier.controller", "zerotier.peer"],
        inventory: { zerotier: { controller: ["cinnabar"], peer: ["cinnabar", "stibnite"] } },
        types: ["list", "null", "int", "list"],
        peerTags: ["desk"],
        peerUser: "ops",
        controllerHost: "10.0.0.1",
        isController: true,
        nodeNames: ["cinnabar", "stibnite"],
        hostKey: {
          name: "ed25519",
          destDir: "/run/keys/vars/ssh-host",
          path: "/run/keys/vars/ssh-host/ed25519",
          user: "root",
          group: "root",
          permissions: "0400",
          uploadAt: "pre-activation",
        },
        keyNames: ["ssh-host/ed25519"],
      },
    });
  });

  it("gives public vars as strings, byte for byte, to the node and through nodes.<name>", () => {
    const result = systemOf(
      "cinnabar",
      `{ own = config.hive.vars."ssh-host"."ed25519.pub"; viaNodes = config.hive.nodes.cinnabar.vars."ssh-host"."ed25519.pub"; shared = config.hive.vars.zerotier.network; }`,
    );
    expect(result).toEqual({ ok: true, value: { own: NASTY, viaNodes: NASTY, shared: "8056c2e21c000001" } });
  });

  it("fails only where a module reads a public file not generated yet, saying what to run", () => {
    expect(systemOf("stibnite", `config.hive.vars.zerotier.network`)).toEqual({ ok: true, value: "8056c2e21c000001" });
    expect(systemOf("stibnite", `builtins.attrNames config.hive.vars."ssh-host"`)).toEqual({ ok: true, value: ["ed25519.pub"] });
    const missing = systemOf("stibnite", `config.hive.vars."ssh-host"."ed25519.pub"`);
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toContain("hive: ssh-host/ed25519.pub of node stibnite has not been generated yet; run `hive vars generate --on stibnite`");
  });

  it("is read-only: a module cannot change what hive.ts says", () => {
    const result = systemOf(
      "cinnabar",
      "config.hive.tags",
      `lib.evalModules { modules = [ base ({ config, ... }: { probe = config.hive.tags; }) { hive.tags = [ "forged" ]; } ]; }`,
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/The option `hive\.tags' is read-only, but it's set multiple times/);
  });

  it("tells a configuration without extendModules how to import the module by hand", () => {
    const stripped = `builtins.removeAttrs (lib.evalModules { modules = [ base { probe = "built"; } ]; }) [ "extendModules" ]`;
    const result = systemOf("cinnabar", "null", stripped);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(
      "hive: nixosConfigurations.cinnabar has no extendModules (made by a nixpkgs older than 21.11?), so hive cannot add config.hive to it. " +
        "Make it with nixpkgs.lib.nixosSystem, or import nixosModules.hive (from hive's flake) in its modules by hand",
    );
  });

  it("builds a configuration that imported the module by hand, with data it set itself", () => {
    const byHand = `builtins.removeAttrs (lib.evalModules { modules = [ base hiveModule { hive.data = ${dataOf("stibnite")}; } ({ config, ... }: { probe = config.hive.name; }) ]; }) [ "extendModules" ]`;
    expect(systemOf("cinnabar", "null", byHand)).toEqual({ ok: true, value: "stibnite" });
  });

  it("imported by hand and by hive, declares its options once", () => {
    const both = `lib.evalModules { modules = [ base hiveModule ({ config, ... }: { probe = config.hive.targetHost; }) ]; }`;
    expect(systemOf("cinnabar", "null", both)).toEqual({ ok: true, value: "10.0.0.1" });
  });

  it("says what to do when config.hive is read without data", () => {
    const result = evaluate(`(lib.evalModules { modules = [ base hiveModule ({ config, ... }: { probe = config.hive.name; }) ]; }).config.system.build.toplevel`);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain("hive: config.hive is empty: this configuration was not evaluated by hive");
  });

  it("builds what is not a module system result as it is", () => {
    expect(evaluate(hiveSystemExpression(`{ config.system.build.toplevel = "plain"; }`, "throw \"unused\"", "x"))).toEqual({ ok: true, value: "plain" });
  });
});

describe("configurationPath", () => {
  it("is the path before config.system.build.toplevel, or null", () => {
    expect(configurationPath('nixosConfigurations."web.1".config.system.build.toplevel')).toEqual(["nixosConfigurations", "web.1"]);
    expect(configurationPath("packages.x86_64-linux.default")).toBeNull();
    expect(configurationPath("config.system.build.toplevel")).toBeNull();
  });
});

describe("in pure evaluation, as the evaluator runs it (nix eval FLAKE#nixosConfigurations --apply)", () => {
  it("builds a page from config.hive in a flake with no hive code, importing no file", () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-module-pure-"));
    try {
      const fixture = resolve(import.meta.dirname, "../../test/fixtures/config-hive-flake");
      for (const file of ["system.nix", "site.nix", "build.sh"]) copyFileSync(join(fixture, file), join(dir, file));
      for (const file of ["build-system.sh", "switch-to-configuration.sh"]) copyFileSync(resolve(import.meta.dirname, "../../lab", file), join(dir, file));
      writeFileSync(join(dir, "flake.nix"), readFileSync(join(fixture, "flake.nix"), "utf8").replace("@NIXPKGS_LIB@", NIXPKGS_LIB));
      writeFileSync(join(dir, "nodes.json"), JSON.stringify(["cinnabar", "stibnite"]));
      const lock = spawnSync("nix", ["flake", "lock", dir], { encoding: "utf8", env: NIX_ENV });
      expect(lock.status, lock.stderr).toBe(0);
      // stibnite's host key is not generated: its page (which reads it) fails, as a tryEval shows.
      const page = (n: string) => `(withHive root.${n} (${dataOf(n)}) ${nixString(n)}).page`;
      const apply = `root: let withHive = ${hiveSystemFunction()}; in { cinnabar = ${page("cinnabar")}; stibnite = (builtins.tryEval ${page("stibnite")}).success; }`;
      const result = spawnSync("nix", ["eval", "--json", `path:${dir}#nixosConfigurations`, "--apply", apply], { encoding: "utf8", env: NIX_ENV });
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        cinnabar: `cinnabar tags=server,eu\ncontroller=10.0.0.1\ncontroller of 2 peers\nhostkey=${NASTY}`,
        stibnite: false,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
