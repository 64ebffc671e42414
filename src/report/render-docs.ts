// The tables of docs/cli.md that come from code (error codes, events), so the docs cannot drift.
import { ERROR_CODES } from "../errors.js";
import { EVENT_DOCS } from "../events.js";

export function renderErrorCodesTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, info]) => `| \`${code}\` | ${info.fault === "user" ? "input" : "environment"} | ${info.meaning} |`);
  return ["| Code | Whose | Meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

export function renderEventsTable(): string {
  const rows = Object.entries(EVENT_DOCS).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
  return ["| `code` | Meaning |", "| --- | --- |", ...rows].join("\n");
}

/** Replace each `<!-- generated:NAME -->...<!-- /generated:NAME -->` block of `doc` with its table. */
export function updateGeneratedBlocks(doc: string): string {
  const tables: Record<string, () => string> = { "error-codes": renderErrorCodesTable, events: renderEventsTable };
  return doc.replace(/<!-- generated:([a-z-]+) -->\n[\s\S]*?<!-- \/generated:\1 -->/g, (block, name: string) => {
    const render = tables[name];
    return render === undefined ? block : `<!-- generated:${name} -->\n${render()}\n<!-- /generated:${name} -->`;
  });
}
