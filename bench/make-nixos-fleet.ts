// Writes the real-fleet benchmark's NixOS-shaped flake for a look or for development, without a lab.
// `npx jiti bench/make-nixos-fleet.ts DIR [--nodes=N] [--modules=N] [--packages=N] [--enabled=N] [--version=V]`
import { resolve } from "node:path";
import { writeNixosFleet } from "./lib/nixos-fleet.js";

const USAGE = "usage: npx jiti bench/make-nixos-fleet.ts DIR [--nodes=N (20)] [--modules=N (1200)] [--packages=N (6000)] [--enabled=N (100)] [--version=V (1)]";
const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith("--"));
const settings: Record<string, string> = {};
for (const arg of args.filter((a) => a.startsWith("--"))) {
  const match = /^--(nodes|modules|packages|enabled|version)=(.+)$/.exec(arg);
  if (!match) {
    process.stderr.write(`unknown argument ${arg}\n${USAGE}\n`);
    process.exit(2);
  }
  settings[match[1]!] = match[2]!;
}
if (dir === undefined) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const count = (name: string, fallback: number) => {
  const value = Number(settings[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a positive whole number\n${USAGE}\n`);
    process.exit(2);
  }
  return value;
};

const fleet = writeNixosFleet({
  dir: resolve(dir),
  nodes: Array.from({ length: count("nodes", 20) }, (_, i) => `node-${i + 1}`),
  modules: count("modules", 1200),
  packages: count("packages", 6000),
  enabledPerNode: count("enabled", 100),
  version: settings.version ?? "1",
});
process.stdout.write(
  [
    `flake (git repository): ${fleet.flakeDir}`,
    `nixpkgs-shaped input:   ${fleet.nixpkgsDir}`,
    `${fleet.nodes.length} nodes, ${fleet.modules} modules, ${fleet.packages} packages, ${fleet.enabledPerNode} enabled per node`,
    "",
    `nix eval --raw ${fleet.flakeDir}#nixosConfigurations.${fleet.nodes[0]}.config.system.build.toplevel.drvPath`,
    "",
  ].join("\n"),
);
