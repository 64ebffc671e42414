import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatValue, listSettings, renderReference } from "./reference.js";
import { generatorSchema, healthCheckSchema, httpCheckSchema, keySchema, metaSchema, nodeSchema, rolloutSchema, sshSchema, varFileSchema, varsSchema } from "./schema.js";

const REFERENCE = new URL("../../docs/hive-reference.md", import.meta.url);

describe("renderReference", () => {
  const rendered = renderReference();

  it("matches docs/hive-reference.md", () => {
    const committed = readFileSync(REFERENCE, "utf8");
    expect(committed, "docs/hive-reference.md is out of date with src/config/schema.ts: run `npx jiti scripts/gen-reference.ts`").toBe(
      rendered,
    );
  });

  it.each([
    ["meta", metaSchema.shape],
    ["meta.rollout", rolloutSchema.shape],
    ["nodes.<name>", nodeSchema.shape],
    ["nodes.<name>.ssh", sshSchema.shape],
    ["nodes.<name>.healthChecks.<check>", healthCheckSchema.shape],
    ["nodes.<name>.healthChecks.<check>.http", httpCheckSchema.shape],
    ["nodes.<name>.keys.<key>", keySchema.shape],
    ["vars", varsSchema.shape],
    ["vars.generators.<generator>", generatorSchema.shape],
    ["vars.generators.<generator>.files.<file>", varFileSchema.shape],
  ])("documents every setting under %s", (prefix, shape) => {
    const missing = Object.keys(shape).filter((key) => !rendered.includes(`| \`${prefix}.${key}\` |`));
    expect(missing).toEqual([]);
  });

  it("shows each schema default and its type", () => {
    expect(rendered).toContain("| `meta.parallel` | `integer ≥ 1` | `10` |");
    expect(rendered).toContain('| `nodes.<name>.privilegeEscalationCommand` | `string[], non-empty` | `["sudo", "-H", "--"]` |');
    expect(rendered).toContain('| `nodes.<name>.healthChecks.<check>.http.scheme` | `"http" \\| "https"` | `"http"` |');
    expect(rendered).toContain("| `nodes.<name>.healthChecks.<check>.tcp.port` | `integer 1–65535` | *required* |");
    expect(rendered).toContain("| `nodes.<name>.targetPort` | `integer 1–65535` | — |");
  });

  it("takes meanings from the schema's descriptions", () => {
    const byName = new Map(listSettings().flatMap(({ settings }) => settings.map((s) => [s.name, s] as const)));
    expect(byName.get("nodes.<name>.confirmTimeout")?.meaning).toBe(nodeSchema.shape.confirmTimeout.description);
    expect(byName.get("nodes.<name>.ssh")?.meaning).toBe(sshSchema.description);
  });

  it("keeps <name> in prose from turning into HTML", () => {
    expect(rendered).toContain("default nixosConfigurations.\\<name\\>.config.system.build.toplevel.");
  });
});

describe("formatValue", () => {
  it("writes values the way hive.ts would", () => {
    expect(formatValue({ options: [], connectTimeout: 10, "a-b": "x" })).toBe('{ options: [], connectTimeout: 10, "a-b": "x" }');
    expect(formatValue({})).toBe("{}");
    expect(formatValue(["sudo", "-H"])).toBe('["sudo", "-H"]');
  });
});
