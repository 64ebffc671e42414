// Validates a hive.ts export in stages: top-level shape, defaults, each node (merged), then rules.
import { dirname } from "node:path";
import * as z from "zod";
import { ConfigError } from "../errors.js";
import type { SshConfigLookup } from "./ssh-config.js";
import { formatIssues } from "./issues.js";
import { type Hive, type Node, mergeNodeSettings, resolveFlake, resolveNode } from "./normalize.js";
import { applyRules } from "./rules.js";
import { hiveSchema, metaSchema, nodeNameSchema, nodeSchema } from "./schema.js";

/** Only the frame of the hive; each node is checked on its own once defaults are merged in. */
const frameSchema = z.strictObject({
  meta: metaSchema.default({ allowApplyAll: true, parallel: 10 }),
  defaults: z.unknown().optional(),
  nodes: z.record(z.string(), z.unknown(), {
    error: (iss) => (iss.input === undefined ? "missing; define the fleet under `nodes`" : "expected an object of node name to settings"),
  }),
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
    fail([`the default export must be an object with \`nodes\` (use \`export default defineHive({ ... })\`), got ${typeof exported}`]);
  }

  const frame = frameSchema.safeParse(exported, { reportInput: true });
  if (!frame.success) fail(formatIssues(frame.error.issues, hiveSchema));
  const { meta, defaults = {}, nodes: rawNodes } = frame.data!;

  const problems: string[] = [];
  const parsedDefaults = defaultsSchema.safeParse(defaults, { reportInput: true });
  if (!parsedDefaults.success) {
    problems.push(...formatIssues(parsedDefaults.error.issues, nodeSchema, ["defaults"]));
  }

  const dir = dirname(file);
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
        nodes.push(resolveNode(name, parsed.data, dir, sshConfig));
      } else {
        problems.push(...formatIssues(parsed.error.issues, nodeSchema, ["nodes", name]));
      }
    }
  }
  if (problems.length > 0) fail(problems);

  const hive: Hive = { file, dir, meta: { ...meta, flake: resolveFlake(meta.flake, dir) }, nodes, warnings: [] };
  const findings = applyRules(hive);
  if (findings.errors.length > 0) fail(findings.errors);
  hive.warnings.push(...findings.warnings.map((w) => `${label}: ${w}`));
  return hive;
}
