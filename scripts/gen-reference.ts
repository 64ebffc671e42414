// Writes docs/hive-reference.md from the zod schema (src/config/reference.ts); run `npx jiti scripts/gen-reference.ts`.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderReference, undocumentedSettings } from "../src/config/reference.js";

const target = fileURLToPath(new URL("../docs/hive-reference.md", import.meta.url));
writeFileSync(target, renderReference());
process.stdout.write(`wrote ${target}\n`);

const undocumented = undocumentedSettings();
if (undocumented.length > 0) {
  process.stderr.write(`warning: no .describe() text in src/config/schema.ts for: ${undocumented.join(", ")}\n`);
}
