// A NixOS-shaped fleet for benchmarks: a nixpkgs-shaped input (nixpkgs' real lib, generated modules and packages)
// and a user's flake of N nodes in a git repository, locked to that input, whose systems are lab systems.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CORE_MODULES, type ModuleSpec, planModules, renderModuleSet } from "./nixos-fleet-modules.js";
import { type GeneratedFile, makeRandom, renderPackageSet, shapePackageSet } from "./nixos-fleet-packages.js";
import { NIXPKGS_LIB } from "../../test/support/nixpkgs-lib.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** The real nixpkgs lib, beside the project (see its README). */
export const DEFAULT_NIXPKGS_LIB = dirname(NIXPKGS_LIB);
const STATIC_NIXPKGS = join(REPO, "bench", "nixos-fleet", "nixpkgs");
const LAB_SCRIPTS = ["build-system.sh", "switch-to-configuration.sh"];
const NIX_CONFIG = "substituters =\nexperimental-features = nix-command flakes";

export interface NixosFleetOptions {
  /** Created if missing; gets `nixpkgs/` (the input) and `flake/` (the user's repository). */
  dir: string;
  nodes: readonly string[];
  /** Generated modules besides the core ones (default 1200, as many as a NixOS system imports). */
  modules?: number;
  /** Packages in each system's package set (default 6000; a node's toplevel depends on about 2,600 derivations). */
  packages?: number;
  /** Services, programs and hardware modules enabled per node (default 100). */
  enabledPerNode?: number;
  /** The fleet's version, in the toplevels' names (default "1"). */
  version?: string;
  /** Filler per toplevel, so a push moves bytes (default 0). */
  payloadKiB?: number;
  /** Directory holding nixpkgs' `lib/` (default ../shared/nixpkgs-lib). */
  nixpkgsLib?: string;
}

export interface NixosFleet {
  /** The user's flake: a git repository with flake.nix, flake.lock, modules, roles and hosts. */
  flakeDir: string;
  /** The nixpkgs-shaped input, locked as `path:` in flake.lock. */
  nixpkgsDir: string;
  nodes: string[];
  modules: number;
  packages: number;
  enabledPerNode: number;
}

const ROLES = ["web", "db", "worker", "edge", "monitor"];

/** Versions end up in store path names, which allow only these characters. */
function checkVersion(version: string): void {
  if (!/^[A-Za-z0-9+._?=-]+$/.test(version)) throw new Error(`bad fleet version "${version}": use letters, digits and + . _ ? = -`);
}

/** The name of a node's toplevel: lab/flake.nix's, so lab nodes and hive's checks read it the same way. */
export function toplevelName(node: string, version: string): string {
  return `nixos-system-${node}-${version}`;
}

function writeFiles(root: string, files: readonly GeneratedFile[]): void {
  for (const file of files) {
    const path = join(root, file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.text);
  }
}

function git(dir: string, ...args: string[]): string {
  const identity = ["-c", "user.name=hive bench", "-c", "user.email=bench@hive.invalid", "-c", "commit.gpgsign=false"];
  return execFileSync("git", [...identity, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

interface RoleModules {
  daemons: ModuleSpec[];
  programs: ModuleSpec[];
  hardware: ModuleSpec[];
}

/** What every node enables (common) and what each role adds, drawn without overlap from the module set. */
function assignModules(specs: readonly ModuleSpec[], enabledPerNode: number): { common: RoleModules; roles: RoleModules[] } {
  const random = makeRandom(3);
  const pools = {
    daemons: specs.filter((s) => s.kind === "daemon" || s.kind === "dependent"),
    programs: specs.filter((s) => s.kind === "program"),
    hardware: specs.filter((s) => s.kind === "hardware"),
  };
  const take = (pool: ModuleSpec[], n: number) => {
    const picked: ModuleSpec[] = [];
    while (picked.length < n && pool.length > 0) picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
    return picked;
  };
  const share = (fraction: number) => Math.max(1, Math.round(enabledPerNode * fraction));
  const common = { daemons: take(pools.daemons, share(0.25)), programs: take(pools.programs, share(0.08)), hardware: [] };
  const roles = ROLES.map(() => ({ daemons: take(pools.daemons, share(0.45)), programs: take(pools.programs, share(0.12)), hardware: take(pools.hardware, share(0.1)) }));
  return { common, roles };
}

/** Lines enabling and tuning modules, varied so options of every type get definitions. */
function renderEnables(set: RoleModules, seed: number): string[] {
  const random = makeRandom(seed);
  const lines: string[] = [];
  for (const spec of set.daemons) {
    const at = `services.${spec.name}`;
    lines.push(`  ${at}.enable = true;`);
    if (random() < 0.3) lines.push(`  ${at}.openFirewall = true;`, `  ${at}.listenAddress = "0.0.0.0";`);
    if (random() < 0.3) lines.push(`  ${at}.settings.cache_size = ${64 * (1 + Math.floor(random() * 8))};`);
    if (random() < 0.2) lines.push(`  ${at}.extraArgs = [ "--verbose" "--metrics" ];`);
    if (random() < 0.1) lines.push(`  ${at}.logLevel = "warn";`);
    if (spec.hasInstances && random() < 0.5) {
      lines.push(`  ${at}.instances.a.port = ${40000 + spec.index};`, `  ${at}.instances.b = { port = ${45000 + spec.index}; extraConfig = "shard = 2"; };`);
    }
  }
  for (const spec of set.programs) {
    lines.push(`  programs.${spec.name}.enable = true;`);
    if (random() < 0.3) lines.push(`  programs.${spec.name}.extraConfig = "history = 10000";`);
  }
  for (const spec of set.hardware) {
    lines.push(`  hardware.${spec.name}.enable = true;`);
    if (random() < 0.5) lines.push(`  hardware.${spec.name}.powerProfile = "performance";`);
  }
  return lines;
}

function renderCommon(common: RoleModules, options: { version: string; payloadKiB: number; overlayTarget: string }): string {
  return [
    "# Settings every node shares. The fleet's version is the one line `lab.version`.",
    "{ lib, pkgs, ... }:",
    "{",
    `  lab.version = ${JSON.stringify(options.version)};`,
    `  lab.payloadKiB = ${options.payloadKiB};`,
    '  system.stateVersion = "25.05";',
    "",
    "  nixpkgs.config.allowUnfree = true;",
    "  nixpkgs.overlays = [",
    `    (final: prev: { ${options.overlayTarget} = prev.${options.overlayTarget}.overrideAttrs (old: { patches = [ "local-fix.patch" ]; }); })`,
    "  ];",
    "",
    '  networking.domain = "fleet.example";',
    '  networking.nameservers = [ "10.0.0.53" "10.0.1.53" ];',
    '  users.users.ops = { isNormalUser = true; extraGroups = [ "wheel" ]; openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHiveBenchOpsKey ops@fleet" ]; };',
    "  users.groups.wheel = { };",
    '  boot.kernel.sysctl."net.core.somaxconn" = 4096;',
    "  boot.tmp.cleanOnBoot = true;",
    "  environment.systemPackages = with pkgs; [ coreutils bash systemd python3 ];",
    '  environment.variables.EDITOR = "vi";',
    "",
    ...renderEnables(common, 11),
    "}",
    "",
  ].join("\n");
}

function renderRole(role: string, set: RoleModules, seed: number): string {
  return [`# The ${role} role: the services ${role} nodes run.`, "{ ... }:", "{", ...renderEnables(set, seed), "}", ""].join("\n");
}

function renderHost(node: string, index: number, role: string, set: RoleModules): string {
  const first = set.daemons[0];
  return [
    `# ${node}: a ${role} node.`,
    "{ ... }:",
    "{",
    `  imports = [ ../roles/${role}.nix ];`,
    `  networking.hostName = ${JSON.stringify(node)};`,
    `  networking.interfaces.eth0.ipv4.addresses = [ { address = "10.0.${Math.floor(index / 250)}.${(index % 250) + 1}"; prefixLength = 16; } ];`,
    ...(first ? [`  services.${first.name}.port = ${30000 + index};`] : []),
    "}",
    "",
  ].join("\n");
}

function renderFlake(nixpkgsDir: string): string {
  return `# A NixOS-shaped fleet (generated by hive's bench/lib/nixos-fleet.ts): one system per node in nodes.json.
{
  description = "A NixOS-shaped fleet for hive's benchmarks";

  inputs.nixpkgs.url = ${JSON.stringify(`path:${nixpkgsDir}`)};

  outputs = { self, nixpkgs }:
    let
      nodes = builtins.fromJSON (builtins.readFile ./nodes.json);
    in
    {
      nixosConfigurations = builtins.mapAttrs
        (name: node: nixpkgs.lib.nixosSystem {
          system = "x86_64-linux";
          modules = [ ./modules/common.nix (./hosts + "/\${name}.nix") ];
        })
        nodes;
    };
}
`;
}

/**
 * Writes the fleet: the nixpkgs-shaped input under `<dir>/nixpkgs`, the user's flake under `<dir>/flake` as a git
 * repository with a flake.lock from `nix flake lock`, everything committed. Takes a few seconds (the input is
 * copied into the store when locked).
 */
export function writeNixosFleet(options: NixosFleetOptions): NixosFleet {
  const modules = options.modules ?? 1200;
  const packages = options.packages ?? 6000;
  const enabledPerNode = options.enabledPerNode ?? 100;
  const version = options.version ?? "1";
  const nixpkgsDir = resolve(options.dir, "nixpkgs");
  const flakeDir = resolve(options.dir, "flake");
  if (options.nodes.length === 0) throw new Error("a fleet needs at least one node");
  checkVersion(version);
  rmSync(nixpkgsDir, { recursive: true, force: true });
  rmSync(flakeDir, { recursive: true, force: true });

  cpSync(STATIC_NIXPKGS, nixpkgsDir, { recursive: true });
  cpSync(join(options.nixpkgsLib ?? DEFAULT_NIXPKGS_LIB, "lib"), join(nixpkgsDir, "lib"), { recursive: true });
  for (const script of LAB_SCRIPTS) cpSync(join(REPO, "lab", script), join(nixpkgsDir, "nixos", "modules", "core", script));
  const specs = planModules(modules);
  writeFiles(nixpkgsDir, renderModuleSet(specs));
  writeFiles(nixpkgsDir, renderPackageSet(shapePackageSet(packages, modules)));
  execFileSync("chmod", ["-R", "u+w", nixpkgsDir]); // the shared lib is read-only; a later run must be able to delete the copy

  const { common, roles } = assignModules(specs, enabledPerNode);
  const nodeRoles = Object.fromEntries(options.nodes.map((node, i) => [node, ROLES[i % ROLES.length]!]));
  const files: GeneratedFile[] = [
    { path: "flake.nix", text: renderFlake(nixpkgsDir) },
    { path: "nodes.json", text: `${JSON.stringify(Object.fromEntries(options.nodes.map((n) => [n, { role: nodeRoles[n] }])), null, 2)}\n` },
    { path: "modules/common.nix", text: renderCommon(common, { version, payloadKiB: options.payloadKiB ?? 0, overlayTarget: "app-0000" }) },
    { path: ".gitignore", text: "result\nresult-*\n" },
    ...ROLES.map((role, i) => ({ path: `roles/${role}.nix`, text: renderRole(role, roles[i]!, 100 + i) })),
    ...options.nodes.map((node, i) => ({ path: `hosts/${node}.nix`, text: renderHost(node, i, nodeRoles[node]!, roles[i % ROLES.length]!) })),
  ];
  writeFiles(flakeDir, files);

  git(flakeDir, "init", "-q", "-b", "main");
  git(flakeDir, "add", "-A");
  execFileSync("nix", ["flake", "lock", flakeDir], { env: { ...process.env, NIX_CONFIG }, stdio: ["ignore", "ignore", "pipe"] });
  git(flakeDir, "add", "-A");
  git(flakeDir, "commit", "-q", "-m", `A fleet of ${options.nodes.length} nodes, version ${version}`);
  return { flakeDir, nixpkgsDir, nodes: [...options.nodes], modules: modules + CORE_MODULES.length, packages, enabledPerNode };
}

const VERSION_LINE = /^ {2}lab\.version = ".*";$/m;

/** A new version everywhere: the one line in modules/common.nix, committed as a user would. */
export function setFleetVersion(flakeDir: string, version: string): void {
  checkVersion(version);
  const file = join(flakeDir, "modules", "common.nix");
  const text = readFileSync(file, "utf8");
  if (!VERSION_LINE.test(text)) throw new Error(`${file} has no \`lab.version = "...";\` line`);
  writeFileSync(file, text.replace(VERSION_LINE, `  lab.version = ${JSON.stringify(version)};`));
  git(flakeDir, "commit", "-q", "-a", "-m", `Version ${version} everywhere`);
}
