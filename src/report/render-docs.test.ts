import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { ERROR_CODES } from "../errors.js";
import { updateGeneratedBlocks } from "./render-docs.js";

it("docs/cli.md lists every error code and event as the code defines them", () => {
  const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
  expect(doc, "docs/cli.md is out of date: run `npm run docs:reference`").toBe(updateGeneratedBlocks(doc));
  for (const code of Object.keys(ERROR_CODES)) expect(doc).toContain(`| \`${code}\` |`);
  expect(doc).toContain("| `node.done` |");
});
