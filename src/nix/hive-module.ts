// How the evaluator gives a node's configuration `config.hive`: the module's path and the expression around it.
//
// For the evaluator: per node, `hiveSystemExpression(flake.<configuration>, DATA, label)` in place of
// `flake.<system>` (configurationPath splits hive.ts `system`; null means build it as it is). DATA is
// nodeDataExpression(buildNodeData(hive, node, await readPublicVars(hive), facts)) (fleet/node-data.ts,
// vars/store.ts), with `facts =
// fleetFacts(...)` computed once. The data is part of what the node's system depends on, so it belongs
// in any evaluation cache key. Every node's data holds the whole fleet's facts (~200 bytes a node): past
// a few hundred nodes a chunk's expression outgrows one command-line argument (128 KiB on Linux), so bind
// the shared part once per chunk (`let fleet = ...; in`) or read the data from a private file.
//
// The module is imported by absolute path, which `nix eval --impure` allows; pure evaluation would need it
// copied into the store first (builtins.path).
import { fileURLToPath } from "node:url";
import { nixString, parseAttrPath } from "./attr-path.js";

/** nix/hive-module.nix, shipped with the package; flake.nix exports it as nixosModules.hive. */
export const HIVE_MODULE_FILE = fileURLToPath(new URL("../../nix/hive-module.nix", import.meta.url));

const TOPLEVEL = ["config", "system", "build", "toplevel"] as const;

/**
 * The configuration part of a system attribute path: `nixosConfigurations."web-1"` for
 * `nixosConfigurations."web-1".config.system.build.toplevel`; null when the path does not end
 * in a configuration's toplevel (hive.ts `system` pointing at a package), which hive builds as it is.
 */
export function configurationPath(systemAttribute: string): string[] | null {
  const names = parseAttrPath(systemAttribute);
  const tail = names.slice(-TOPLEVEL.length);
  const isToplevel = names.length > TOPLEVEL.length && tail.every((n, i) => n === TOPLEVEL[i]);
  return isToplevel ? names.slice(0, -TOPLEVEL.length) : null;
}

/** A Nix expression of the data (fleet/node-data.ts): one JSON string literal, so nothing in it is ever Nix code. */
export function nodeDataExpression(data: object): string {
  return `builtins.fromJSON ${nixString(JSON.stringify(data))}`;
}

/**
 * The toplevel of a configuration with hive's module added and `hive.data` set:
 *
 *   (configuration.extendModules { modules = [ hiveModule { hive.data = DATA; } ]; }).config.system.build.toplevel
 *
 * `configuration` is a Nix expression of the configuration (e.g. `flake.nixosConfigurations."web-1"`),
 * `data` one of the data (nodeDataExpression, or a `let` binding shared by a chunk of nodes), `label`
 * names it in messages. A configuration that imported the module by hand and has no extendModules is
 * built as it is; so is one that is no module system result (no `options`: nothing could read
 * config.hive). A module system result without extendModules (nixpkgs before 21.11) fails with the fix.
 */
export function hiveSystemExpression(configuration: string, data: string, label: string): string {
  const module = `(import (/. + ${nixString(HIVE_MODULE_FILE)}))`;
  const noExtend = nixString(
    `hive: ${label} has no extendModules (made by a nixpkgs older than 21.11?), so hive cannot add config.hive to it. ` +
      "Make it with nixpkgs.lib.nixosSystem, or import nixosModules.hive (from hive's flake) in its modules by hand " +
      "and set hive.data from `hive nodes --on NODE --nix-data` (see docs/inventory-and-vars.md).",
  );
  return (
    `(let c = ${configuration}; in ` +
    `if c ? extendModules then (c.extendModules { modules = [ ${module} { hive.data = ${data}; } ]; }).config.system.build.toplevel ` +
    `else if !(c ? options) || c.options ? hive then c.config.system.build.toplevel ` +
    `else throw ${noExtend})`
  );
}
