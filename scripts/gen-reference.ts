// Writes the generated parts of the docs: docs/hive-reference.md from the zod schema, and the
// error-code and event tables of docs/cli.md from src/errors.ts and src/events.ts.
// Run `npm run docs:reference`; tests fail when the docs are out of date.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderReference, undocumentedSettings } from "../src/config/reference.js";
import { updateGeneratedBlocks } from "../src/report/render-docs.js";

const reference = fileURLToPath(new URL("../docs/hive-reference.md", import.meta.url));
writeFileSync(reference, renderReference());
process.stdout.write(`wrote ${reference}\n`);

const cli = fileURLToPath(new URL("../docs/cli.md", import.meta.url));
writeFileSync(cli, updateGeneratedBlocks(readFileSync(cli, "utf8")));
process.stdout.write(`wrote ${cli}\n`);

const undocumented = undocumentedSettings();
if (undocumented.length > 0) {
  process.stderr.write(`warning: no .describe() text in src/config/schema.ts for: ${undocumented.join(", ")}\n`);
}
