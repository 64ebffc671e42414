// A fleet the way users keep one: a git monorepo whose flake (in fleet/, used as `?dir=fleet`)
// imports a module from ../shared, evaluated by nixpkgs' real module system (lib from
// ../shared/nixpkgs-lib as a locked path: input), with NixOS's assertions and warnings, building
// lab systems that activate on lab nodes.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LAB_FLAKE_SOURCE, labNixEnv, type Lab } from "../lab/lab.js";
import { NIXPKGS_LIB } from "../support/nixpkgs-lib.js";



export interface GitFleet {
  repo: string;
  flakeDir: string;
  hiveFile: string;
  /** The nixpkgs lib input's copy (outside the repo). */
  libDir: string;
}

export interface GitFleetKnobs {
  assertFail?: boolean;
  warn?: boolean;
  activationSleep?: number;
}

const BASE_MODULE = `# The module every node imports: NixOS's assertions and warnings, and a lab toplevel.
{ config, lib, rev, ... }:
let
  cfg = config.node;
  webConfig = builtins.toFile "web.conf" "listen 80";
  toplevel = builtins.derivation {
    system = "x86_64-linux";
    name = "nixos-system-\${cfg.name}-\${cfg.version}";
    builder = "/bin/sh";
    args = [ "-e" ./build-system.sh ];
    PATH = "/usr/bin:/bin";
    nodeName = cfg.name;
    nodeVersion = "\${cfg.version}-\${rev}";
    failActivation = "0";
    unitsFailed = "0";
    unhealthy = "0";
    activationSleep = toString (cfg.knobs.activationSleep or 0);
    payloadKiB = "0";
    switchScript = ./switch-to-configuration.sh;
    inherit webConfig;
  };
  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
in
{
  options.node = {
    name = lib.mkOption { type = lib.types.str; };
    version = lib.mkOption { type = lib.types.str; };
    knobs = lib.mkOption { type = lib.types.attrs; default = { }; };
  };
  options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
  options.warnings = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  options.system.build.toplevel = lib.mkOption { type = lib.types.unspecified; };
  config.assertions = [ { assertion = !(cfg.knobs.assertFail or false); message = "node \${cfg.name}: services.web.port must be set"; } ];
  config.warnings = lib.optional (cfg.knobs.warn or false) "services.web.legacyListen is deprecated; use services.web.listen";
  # As nixos/modules/system/activation/top-level.nix does it.
  config.system.build.toplevel =
    if failed != [ ] then throw "\\nFailed assertions:\\n\${lib.concatStringsSep "\\n" (map (x: "- \${x}") failed)}"
    else lib.foldr (w: x: lib.warn w x) toplevel config.warnings;
}
`;

const FLAKE = (libDir: string) => `{
  inputs.lib.url = "path:${libDir}";
  outputs = { self, lib }:
    let
      l = lib.lib;
      data = builtins.fromJSON (builtins.readFile ./nodes.json);
      rev = self.shortRev or "dirty";
      mk = name: l.evalModules {
        specialArgs = { inherit rev; };
        modules = [
          ../shared/base.nix
          { node = { inherit name; version = data.version; knobs = data.nodes.\${name}; }; }
        ] ++ l.optional (builtins.pathExists ./override.nix) ./override.nix;
      };
    in
    { nixosConfigurations = l.genAttrs (builtins.attrNames data.nodes) mk; };
}
`;

function git(repo: string, ...args: string[]): string {
  const result = spawnSync("git", ["-C", repo, "-c", "user.email=ops@example.org", "-c", "user.name=ops", ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

export function commit(fleet: GitFleet, message: string): string {
  git(fleet.repo, "add", "-A");
  git(fleet.repo, "commit", "-q", "-m", message);
  return git(fleet.repo, "rev-parse", "HEAD");
}

/** `nix flake lock`; with `update`, the lib input is locked afresh (its content changed). */
export function lockFlake(fleet: GitFleet, update = false): void {
  const args = ["flake", "lock", "--extra-experimental-features", "nix-command flakes", ...(update ? ["--update-input", "lib"] : [])];
  const result = spawnSync("nix", args, { cwd: fleet.flakeDir, env: labNixEnv(), encoding: "utf8" });
  if (result.status !== 0) throw new Error(`nix flake lock: ${result.stderr}`);
}

export function setFleetNodes(fleet: GitFleet, version: string, nodes: Record<string, GitFleetKnobs>): void {
  writeFileSync(join(fleet.flakeDir, "nodes.json"), `${JSON.stringify({ version, nodes }, null, 2)}\n`);
}

export function readFleetNodes(fleet: GitFleet): { version: string; nodes: Record<string, GitFleetKnobs> } {
  return JSON.parse(readFileSync(join(fleet.flakeDir, "nodes.json"), "utf8")) as { version: string; nodes: Record<string, GitFleetKnobs> };
}

/** A committed, locked monorepo fleet of `nodes`, and a hive.ts for it (outside the repo). */
export function makeGitFleet(lab: Lab, nodes: string[]): GitFleet {
  const root = mkdtempSync(join(tmpdir(), "hive-gitfleet-"));
  const repo = join(root, "repo");
  const libDir = join(root, "nixpkgs-lib");
  cpSync(NIXPKGS_LIB, libDir, { recursive: true });
  const flakeDir = join(repo, "fleet");
  mkdirSync(join(repo, "shared"), { recursive: true });
  mkdirSync(flakeDir, { recursive: true });
  writeFileSync(join(repo, ".gitignore"), "secrets/\n");
  writeFileSync(join(repo, "shared", "base.nix"), BASE_MODULE);
  for (const script of ["build-system.sh", "switch-to-configuration.sh"]) cpSync(join(LAB_FLAKE_SOURCE, script), join(repo, "shared", script));
  writeFileSync(join(flakeDir, "flake.nix"), FLAKE(libDir));
  const fleet: GitFleet = { repo, flakeDir, libDir, hiveFile: join(root, "hive.ts") };
  setFleetNodes(fleet, "v1", Object.fromEntries(nodes.map((n) => [n, {}])));
  git(repo, "init", "-q");
  commit(fleet, "a fleet");
  lockFlake(fleet);
  commit(fleet, "lock");
  const hive = {
    meta: { flake: flakeDir },
    defaults: { ssh: { identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, connectTimeout: 3 } },
    nodes: Object.fromEntries(nodes.map((n) => [n, { targetHost: lab.nodes.find((l) => l.name === n)!.address }])),
  };
  writeFileSync(fleet.hiveFile, `export default ${JSON.stringify(hive, null, 2)};\n`);
  return fleet;
}

export function shortRev(fleet: GitFleet): string {
  return git(fleet.repo, "rev-parse", "--short=7", "HEAD");
}
