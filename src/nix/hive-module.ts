// How the evaluator gives a node's configuration `config.hive`: the module's path, the function
// that extends a configuration with it, and where a system attribute's configuration is.
//
// The evaluator (eval-worker.ts) binds hiveSystemFunction once per process and applies it to each
// node whose `system` is a configuration's toplevel (configurationPath), with the node's data built
// in Nix from the fleet's part (eval-data.ts, bound once) and the node's own keys. That data is part
// of each node's evaluation cache key. The module's text is inlined (no file is imported), so this
// works in pure evaluation too.
import { readFileSync } from "node:fs";
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

/** The module's source, inlined into expressions: pure evaluation (`nix eval flake#x --apply`) may not import a file. */
let moduleSource: string | undefined;

/**
 * A Nix function `configuration: data: label: toplevel`: the configuration's toplevel with hive's
 * module added and `hive.data` set to `data`,
 *
 *   (configuration.extendModules { modules = [ hiveModule { hive.data = data; } ]; }).config.system.build.toplevel
 *
 * Bind it once per evaluator process (`let withHive = FUNCTION; in ... withHive c r.data r.attribute`);
 * it holds the module's text and no file path, so it works in pure evaluation. `label` (a string)
 * names the configuration in messages. A configuration that imported the module by hand and has
 * no extendModules is built as it is; so is one that is no module system result (no `options`:
 * nothing in it can read config.hive). A module system result without extendModules (nixpkgs
 * before 21.11) fails with the fix.
 */
export function hiveSystemFunction(): string {
  moduleSource ??= readFileSync(HIVE_MODULE_FILE, "utf8");
  const noExtend = (part: string) => nixString(part);
  return (
    `(let hiveModule = (${moduleSource}); in c: data: label: ` +
    `if c ? extendModules then (c.extendModules { modules = [ hiveModule { hive.data = data; } ]; }).config.system.build.toplevel ` +
    `else if !(c ? options) || c.options ? hive then c.config.system.build.toplevel ` +
    `else throw (${noExtend("hive: ")} + label + ${noExtend(
      " has no extendModules (made by a nixpkgs older than 21.11?), so hive cannot add config.hive to it. " +
        "Make it with nixpkgs.lib.nixosSystem, or import nixosModules.hive (from hive's flake) in its modules by hand " +
        "and set hive.data from `hive nodes --on NODE --nix-data` (see docs/inventory-and-vars.md).",
    )}))`
  );
}

/** hiveSystemFunction applied: `configuration` and `data` are Nix expressions, `label` a plain string. */
export function hiveSystemExpression(configuration: string, data: string, label: string): string {
  return `(${hiveSystemFunction()} (${configuration}) (${data}) ${nixString(label)})`;
}
