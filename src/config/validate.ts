// Validates a hive.ts export in stages: top-level shape, defaults, each node (merged), then rules.
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import * as z from "zod";
import { ConfigError } from "../errors.js";
import type { SshConfigLookup } from "./ssh-config.js";
import { generatedKeys, makeVarResolver, resolveGenerators, varsDirOf } from "./generators.js";
import { resolveInventory, rolesOf } from "./inventory.js";
import { formatIssues } from "./issues.js";
import { type Hive, type Node, type ResolvedVars, mergeNodeSettings, resolveFlake, resolveNode } from "./normalize.js";
import { applyRules } from "./rules.js";
import { type Inventory, type Vars, describeValue, hiveSchema, inventorySchema, metaSchema, nodeNameSchema, nodeSchema, varsSchema } from "./schema.js";

/** Only the frame of the hive; each node is checked on its own once defaults are merged in. */
const frameSchema = z.strictObject({
  meta: metaSchema.default({ allowApplyAll: true, parallel: 10 }),
  defaults: z.unknown().optional(),
  nodes: z.record(z.string(), z.unknown(), {
    error: (iss) => (iss.input === undefined ? "missing; define the fleet under `nodes`" : "expected an object of node name to settings"),
  }),
  inventory: z.unknown().optional(),
  vars: z.unknown().optional(),
});

const defaultsSchema = nodeSchema.partial();

/**
 * Turn the value hive.ts exported into a Hive, or throw a ConfigError listing every problem,
 * each prefixed with the file's name.
 */
export function validateHive(exported: unknown, file: string, sshConfig: SshConfigLookup): Hive {
  const label = file.split("/").pop() ?? file;
  const fail = (problems: string[]): never => {
    throw new ConfigError(
      problems.map((p) => `${label}: ${p}`),
      "fix hive.ts; `hive --help` and docs/hive-reference.md list every setting",
    );
  };
  if (typeof exported !== "object" || exported === null || Array.isArray(exported)) {
    const got = exported === undefined ? "undefined" : describeValue(exported);
    fail([`the default export must be an object with \`nodes\` (use \`export default defineHive({ ... })\`), got ${got}`]);
  }

  const reserved = prototypeNameProblems(exported as Record<string, unknown>);
  if (reserved.length > 0) fail(reserved);

  const frame = frameSchema.safeParse(exported, { reportInput: true });
  if (!frame.success) fail(formatIssues(frame.error.issues, hiveSchema));
  const { meta, defaults = {}, nodes: rawNodes, inventory: rawInventory = {}, vars: rawVars = {} } = frame.data!;

  const problems: string[] = [];
  const parsedDefaults = defaultsSchema.safeParse(defaults, { reportInput: true });
  if (!parsedDefaults.success) {
    problems.push(...formatIssues(parsedDefaults.error.issues, nodeSchema, ["defaults"]));
  }
  const parsedInventory = inventorySchema.safeParse(rawInventory, { reportInput: true });
  if (!parsedInventory.success) problems.push(...formatIssues(parsedInventory.error.issues, inventorySchema, ["inventory"]));
  const parsedVars = varsSchema.safeParse(rawVars, { reportInput: true });
  if (!parsedVars.success) problems.push(...formatIssues(parsedVars.error.issues, varsSchema, ["vars"]));

  const dir = dirname(file);
  const vars = parsedVars.data ?? { recipients: [], generators: {} };
  const identity = vars.identity === undefined ? undefined : resolveHomePath(dir, vars.identity);
  const resolveVar = makeVarResolver(varsDirOf(dir), vars.generators, identity);
  // Keys on a node are recorded per hive: by its name, else by where this hive.ts is.
  const hiveName = meta.name !== undefined && meta.name.trim() !== "" ? meta.name : file;
  const nodes: Node[] = [];
  if (problems.length === 0) {
    for (const [name, raw] of Object.entries(rawNodes)) {
      const validName = nodeNameSchema.safeParse(name, { reportInput: true });
      if (!validName.success) {
        problems.push(...formatIssues(validName.error.issues, nodeNameSchema, ["nodes", name]));
        continue;
      }
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        problems.push(`nodes.${name}: expected an object of settings, got ${raw === null ? "null" : typeof raw}`);
        continue;
      }
      const merged = mergeNodeSettings(defaults as Record<string, unknown>, raw as Record<string, unknown>);
      const parsed = nodeSchema.safeParse(merged, { reportInput: true });
      if (parsed.success) {
        nodes.push(resolveNode(name, parsed.data, dir, sshConfig, resolveVar, hiveName));
      } else {
        problems.push(...formatIssues(parsed.error.issues, nodeSchema, ["nodes", name]));
      }
    }
  }
  if (problems.length > 0) fail(problems);

  const hive: Hive = { file, dir, meta: { ...meta, flake: resolveFlake(meta.flake, dir) }, nodes, warnings: [], ...resolveFleet(nodes, parsedInventory.data!, vars, dir, identity) };
  const findings = applyRules(hive);
  if (findings.errors.length > 0) fail(findings.errors);
  hive.warnings.push(...findings.warnings.map((w) => `${label}: ${w}`));
  return hive;
}

/** Roles from the inventory, then generators' nodes (their `on` may name roles), then the keys generators add. */
function resolveFleet(nodes: Node[], inventory: Inventory, vars: Vars, dir: string, identity: string | undefined): Pick<Hive, "inventory" | "vars"> {
  const resolvedInventory = resolveInventory(inventory, nodes);
  for (const node of nodes) node.roles = rolesOf(resolvedInventory, node.name);
  const generators = resolveGenerators(vars, nodes);
  const resolveVar = makeVarResolver(varsDirOf(dir), vars.generators, identity);
  for (const node of nodes) node.keys = { ...node.keys, ...generatedKeys(node.name, generators, resolveVar) };
  const resolvedVars: ResolvedVars = { dir: varsDirOf(dir), recipients: vars.recipients, generators, ...(identity === undefined ? {} : { identity }) };
  return { inventory: resolvedInventory, vars: resolvedVars };
}

/** A path from hive.ts: `~/...` is under the home directory, anything else relative to hive.ts. */
function resolveHomePath(dir: string, path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : resolve(dir, path);
}

/**
 * `__proto__` as a node, key or check name: zod, object spreads and literals drop it without a
 * word (in a literal it sets the prototype), so the node or key would silently not exist.
 */
function prototypeNameProblems(exported: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (value: unknown, path: string, what: string): void => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    if (Object.hasOwn(value, "__proto__")) {
      problems.push(`${path}.__proto__: "__proto__" cannot be a ${what} name (JavaScript treats it as the object's prototype); rename it`);
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      problems.push(`${path}: \`__proto__: { ... }\` in an object literal sets the prototype instead of adding a ${what} named "__proto__"; rename it`);
    }
  };
  const checkSettings = (settings: unknown, path: string): void => {
    if (typeof settings !== "object" || settings === null) return;
    check((settings as Record<string, unknown>)["keys"], `${path}.keys`, "key");
    check((settings as Record<string, unknown>)["healthChecks"], `${path}.healthChecks`, "health check");
  };
  check(exported["nodes"], "nodes", "node");
  checkSettings(exported["defaults"], "defaults");
  const nodes = exported["nodes"];
  if (typeof nodes === "object" && nodes !== null) {
    for (const [name, settings] of Object.entries(nodes)) checkSettings(settings, `nodes.${name}`);
  }
  return problems;
}
