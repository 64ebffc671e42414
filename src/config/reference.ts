// Renders the hive.ts reference (docs/hive-reference.md) from the zod schema, so the docs cannot drift from validation.
import * as z from "zod";
import { defaultSystemAttribute, mergeNodeSettings } from "./normalize.js";
import { generatorSchema, healthCheckSchema, hiveSchema, keySchema, metaSchema, nodeSchema, serviceSchema, tagSchema, varFileSchema, varsSchema } from "./schema.js";

/** The part of JSON Schema that zod emits for hive's schemas and that the reference reads. */
interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  pattern?: string;
}

/** One row of the reference. */
export interface Setting {
  /** Dotted name as error messages print it, e.g. `nodes.<name>.ssh.connectTimeout`. */
  name: string;
  type: string;
  /** The schema's default as a JS literal; undefined when there is none. */
  default?: string;
  required: boolean;
  /** The `.describe()` text; empty when the schema has none. */
  meaning: string;
}

/** A setting whose value is a map of name to a schema documented in its own section. */
interface RecordLink {
  /** What one entry is, for the type column. */
  entry: string;
  title: string;
  anchor: string;
}

interface Section {
  title: string;
  anchor: string;
  intro: string;
  prefix: string;
  schema: z.ZodType;
  records?: Record<string, RecordLink>;
}

const HEALTH_CHECKS: RecordLink = { entry: "health check", title: "Health checks", anchor: "health-checks" };
const KEYS: RecordLink = { entry: "key", title: "Keys", anchor: "keys" };
const GENERATORS: RecordLink = { entry: "generator", title: "Generators", anchor: "generators" };
const GENERATOR_FILES: RecordLink = { entry: "file", title: "Generator files", anchor: "generator-files" };
const SERVICES: RecordLink = { entry: "service", title: "Services", anchor: "services" };
const SERVICES_INTRO = "What runs on the node, each under a name in `services`: `hive status` shows, per service, its systemd unit's state (where systemd runs), whether something listens on its `port` (read on the node), and its health check. A service that is not active, not listening or failing its check makes `hive status` exit 1.";

/** The pattern every name (node, tag, check, key) follows; strings with it are shown as type `name`. */
const NAME_PATTERN = toJsonSchema(tagSchema).pattern;

const SECTIONS: readonly Section[] = [
  {
    title: "meta",
    anchor: "meta",
    prefix: "meta",
    schema: metaSchema,
    intro: "Settings of the whole fleet. `meta` itself is optional.",
  },
  {
    title: "Nodes",
    anchor: "nodes",
    prefix: "nodes.<name>",
    schema: nodeSchema,
    records: { healthChecks: HEALTH_CHECKS, keys: KEYS, services: SERVICES },
    intro: [
      "Settings of one node, under its name in `nodes`. `defaults` takes the same settings (write them as",
      "`defaults.<setting>`); see [how defaults merge into nodes](#how-defaults-merge-into-nodes).",
      "",
      "hive connects to `targetHost`, `targetPort` and `targetUser` from hive.ts; a setting left out comes from",
      "`~/.ssh/config` (looked up under `targetHost`, else the node name), else the node name, port 22 and user root.",
      "Relative paths in `ssh.identityFile`, `ssh.knownHostsFile` and `keys.<key>.file` are relative to hive.ts's",
      "directory.",
    ].join("\n"),
  },
  {
    title: "Health checks",
    anchor: "health-checks",
    prefix: "nodes.<name>.healthChecks.<check>",
    schema: healthCheckSchema,
    intro: [
      "Checks run after activation, each under a name in `healthChecks`. Each check has exactly one of `cmd`,",
      "`http` or `tcp`. An attempt that fails is retried every `interval` seconds until `deadline`.",
    ].join("\n"),
  },
  {
    title: "Keys",
    anchor: "keys",
    prefix: "nodes.<name>.keys.<key>",
    schema: keySchema,
    intro: [
      "Secrets uploaded to the node, each under a name in `keys`. Each key has exactly one source: `text`, `file`,",
      "`command` or `var`. Secret files of generators are added as keys by themselves (see [Generator files](#generator-files)).",
    ].join("\n"),
  },
  {
    title: "vars",
    anchor: "vars",
    prefix: "vars",
    schema: varsSchema,
    records: { generators: GENERATORS },
    intro: [
      "Generated secrets and public values (see docs/inventory-and-vars.md). `hive vars generate` runs the generators",
      "and stores their files in `vars/` next to hive.ts: secret files encrypted with age for `recipients`, public ones",
      "in plain text.",
    ].join("\n"),
  },
  {
    title: "Generators",
    anchor: "generators",
    prefix: "vars.generators.<generator>",
    schema: generatorSchema,
    records: { files: GENERATOR_FILES },
    intro: "A command that writes files, run by `hive vars generate` for each of its nodes, or once when `share` is set.",
  },
  {
    title: "Generator files",
    anchor: "generator-files",
    prefix: "vars.generators.<generator>.files.<file>",
    schema: varFileSchema,
    intro: [
      "Each file the command must write. A secret file is uploaded to each of the generator's nodes as the key",
      "`<generator>/<file>` (settings as for [keys](#keys)); a public file reaches Nix as `config.hive.vars.<generator>.<file>`.",
    ].join("\n"),
  },
  { title: "Services", anchor: "services", prefix: "nodes.<name>.services.<service>", schema: serviceSchema, intro: SERVICES_INTRO },
];

/** hive.ts's documented settings, section by section, read from the schema. */
export function listSettings(): { section: Section; settings: Setting[] }[] {
  return SECTIONS.map((section) => {
    const root = toJsonSchema(section.schema);
    return { section, settings: settingsOf(root, root, section.prefix, section.records ?? {}) };
  });
}

/** Settings whose schema has no `.describe()` text; the generator warns about them. */
export function undocumentedSettings(): string[] {
  return listSettings()
    .flatMap(({ settings }) => settings)
    .filter((s) => s.meaning === "")
    .map((s) => s.name);
}

/** The whole of docs/hive-reference.md. */
export function renderReference(): string {
  const hive = toJsonSchema(hiveSchema);
  const parts: string[] = [
    "# hive.ts reference",
    "",
    "<!-- Generated from src/config/schema.ts by `npx jiti scripts/gen-reference.ts`. Edit the schema, not this file. -->",
    "",
    "hive.ts (or hive.js, hive.mjs) default-exports one object: optional `meta` for the whole fleet, optional",
    "`defaults` merged into every node, and `nodes`, the fleet itself.",
    "",
    "```ts",
    'import { defineHive } from "nix-hive";',
    "",
    "export default defineHive({",
    '  meta: { name: "example" },',
    '  defaults: { targetUser: "deploy", tags: ["server"] },',
    "  nodes: {",
    '    "web-1": { targetHost: "10.0.0.11", tags: ["web"] },',
    '    "db-1": { targetHost: "10.0.0.21", tags: ["db"] },',
    "  },",
    "});",
    "```",
    "",
    "Every setting is optional unless its default says *required*. The default is what hive uses when the",
    "setting is left out; where there is none (—), the meaning says what happens instead. A setting hive does",
    "not know is an error, with the closest known name as a suggestion.",
    "",
    `Node names, tags, health check names and key names (type \`name\`) match \`${NAME_PATTERN}\`: letters, digits,`,
    "`_`, `.` and `-`, not starting with `.` or `-`.",
    "",
    "- [Top level](#top-level)",
    ...SECTIONS.map((s) => `- [${s.title}](#${s.anchor})`),
    "- [How defaults merge into nodes](#how-defaults-merge-into-nodes)",
    "- [The default system attribute](#the-default-system-attribute)",
    "",
    "## Top level",
    "",
    renderTable(topLevelSettings(hive)),
  ];
  for (const { section, settings } of listSettings()) {
    parts.push("", `## ${section.title}`, "", section.intro, "", renderTable(settings));
  }
  parts.push("", ...renderMerging(), "", ...renderSystemAttribute());
  return `${parts.join("\n")}\n`;
}

function toJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", reused: "inline" }) as JsonSchema;
}

function topLevelSettings(hive: JsonSchema): Setting[] {
  const meanings: Record<string, string> = {
    meta: "Settings of the whole fleet; see [meta](#meta).",
    defaults: "Settings merged into every node; node values win. Takes the settings of [a node](#nodes).",
    nodes: "The fleet: node name to [node settings](#nodes).",
    inventory:
      'Services and their roles: `inventory.<service>.<role>` is a selector of the nodes with that role (`"@server,stibnite"`, names and @tags). Select them with `--on %service.role`; Nix sees `config.hive.roles` and `config.hive.inventory`.',
    vars: "Generated secrets and public values; see [vars](#vars).",
  };
  const required = new Set(hive.required ?? []);
  return Object.entries(hive.properties ?? {}).map(([key, prop]) => ({
    name: key,
    type: key === "nodes" ? "{ [name]: node }" : key === "defaults" ? "node settings" : key === "inventory" ? "{ [service]: { [role]: selector } }" : "object",
    default: prop.default === undefined || key === "meta" || key === "vars" ? undefined : formatValue(prop.default),
    required: required.has(key),
    meaning: meanings[key] ?? prop.description ?? "",
  }));
}

function settingsOf(root: JsonSchema, schema: JsonSchema, prefix: string, records: Record<string, RecordLink>): Setting[] {
  const object = resolveRef(root, schema);
  const required = new Set(object.required ?? []);
  const settings: Setting[] = [];
  for (const [key, raw] of Object.entries(object.properties ?? {})) {
    const prop = resolveRef(root, raw);
    const name = `${prefix}.${key}`;
    const record = records[key];
    settings.push({
      name,
      type: record ? `{ [name]: ${record.entry} }` : describeType(root, prop),
      ...(prop.default === undefined ? {} : { default: formatValue(prop.default) }),
      required: required.has(key),
      meaning: record ? `${prop.description ?? ""} See [${record.title}](#${record.anchor}).`.trim() : (prop.description ?? ""),
    });
    if (record === undefined && prop.properties !== undefined) settings.push(...settingsOf(root, prop, name, {}));
  }
  return settings;
}

/** zod inlines reused schemas by default; follow `$ref`s anyway in case a schema is registered with an id. */
function resolveRef(root: JsonSchema, schema: JsonSchema): JsonSchema {
  const match = schema.$ref === undefined ? null : /^#\/\$defs\/(.+)$/.exec(schema.$ref);
  if (match === null) return schema;
  const target = root.$defs?.[decodeURIComponent(match[1]!)];
  return target === undefined ? schema : { ...resolveRef(root, target), ...schema, $ref: undefined };
}

function describeType(root: JsonSchema, raw: JsonSchema): string {
  const schema = resolveRef(root, raw);
  const union = schema.anyOf ?? schema.oneOf;
  if (union !== undefined) return union.map((s) => describeType(root, s)).join(" | ");
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  switch (type) {
    case "string":
      if (schema.pattern === undefined) return "string";
      return schema.pattern === NAME_PATTERN ? "name" : `string /${schema.pattern}/`;
    case "integer":
    case "number":
      return `${type}${describeRange(schema)}`;
    case "array": {
      const items = schema.items === undefined ? "unknown" : describeType(root, schema.items);
      const list = items.includes(" ") ? `(${items})[]` : `${items}[]`;
      return (schema.minItems ?? 0) >= 1 ? `${list}, non-empty` : list;
    }
    case "object":
      if (typeof schema.additionalProperties === "object" && schema.properties === undefined) {
        return `{ [name]: ${describeType(root, schema.additionalProperties)} }`;
      }
      return "object";
    case undefined:
      return "any";
    default:
      return type;
  }
}

function describeRange(schema: JsonSchema): string {
  // z.int() carries the safe-integer bounds; they are not worth printing.
  const min = schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER ? schema.minimum : undefined;
  const max = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`;
  const bounds: string[] = [];
  if (min !== undefined) bounds.push(`≥ ${min}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (max !== undefined) bounds.push(`≤ ${max}`);
  if (schema.exclusiveMaximum !== undefined) bounds.push(`< ${schema.exclusiveMaximum}`);
  return bounds.length === 0 ? "" : ` ${bounds.join(", ")}`;
}

function renderTable(settings: readonly Setting[]): string {
  const rows = settings.map((s) => {
    const fallback = s.required ? "*required*" : "—";
    return `| ${code(s.name)} | ${code(s.type)} | ${s.default === undefined ? fallback : code(s.default)} | ${prose(s.meaning)} |`;
  });
  return ["| Setting | Type | Default | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** A code span that survives a table cell. */
function code(text: string): string {
  return `\`${text.replaceAll("|", "\\|")}\``;
}

/** Description text for a table cell: `<name>` outside code spans is not HTML, `|` does not split the cell. */
function prose(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replaceAll("<", "\\<").replaceAll(">", "\\>")))
    .join("")
    .replaceAll("|", "\\|");
}

/** A value as users would write it in hive.ts. */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return `{ ${entries.map(([k, v]) => `${formatKey(k)}: ${formatValue(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value) ?? String(value);
}

function formatKey(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
}

/** A multi-line object literal, one top-level setting per line, its closing brace at `indent`. */
function formatObject(value: Record<string, unknown>, indent: string): string {
  const lines = Object.entries(value).map(([k, v]) => `${indent}  ${formatKey(k)}: ${formatValue(v)},`);
  return ["{", ...lines, `${indent}}`].join("\n");
}

function renderMerging(): string[] {
  // The example is computed with the loader's own merge, so it shows exactly what hive does.
  const defaults = {
    targetUser: "deploy",
    tags: ["server"],
    ssh: { connectTimeout: 5 },
    healthChecks: { sshd: { tcp: { port: 22 } } },
  };
  const node = {
    targetHost: "10.0.0.11",
    tags: ["web"],
    ssh: { identityFile: "./keys/deploy" },
    healthChecks: { site: { http: { port: 8080 } } },
  };
  const merged = mergeNodeSettings(defaults, node);
  return [
    "## How defaults merge into nodes",
    "",
    "hive merges `defaults` into each node before validating it, then fills in the schema defaults above:",
    "",
    "- a setting the node sets wins over the same setting in `defaults`;",
    "- `tags` is the union of both lists (defaults first, duplicates dropped);",
    "- `healthChecks` and `keys` merge by name, `ssh` by setting: entries from both are kept, and where both",
    "  have the same name the node's entry replaces the one from `defaults` whole (a node's `healthChecks.web`",
    "  is not merged field by field with `defaults.healthChecks.web`).",
    "",
    "```ts",
    `defaults: ${formatObject(defaults, "")},`,
    "nodes: {",
    `  "web-1": ${formatObject(node, "  ")},`,
    "},",
    "",
    "// web-1 after the merge, before schema defaults are filled in:",
    formatObject(merged, ""),
    "```",
  ];
}

function renderSystemAttribute(): string[] {
  return [
    "## The default system attribute",
    "",
    "hive builds each node's system from the flake in `meta.flake` (default: the directory of hive.ts). Without",
    "`system`, the attribute is",
    "",
    "```",
    defaultSystemAttribute("<name>").replace('"<name>"', "<name>"),
    "```",
    "",
    `with the node name quoted when it is not a plain Nix identifier: node \`web-1\` builds`,
    `\`${defaultSystemAttribute("web-1")}\`, node \`web.1\` builds \`${defaultSystemAttribute("web.1")}\`.`,
    "Set `system` to build something else, e.g. a configuration shared by several nodes.",
  ];
}
