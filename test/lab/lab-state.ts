// Reads and writes a lab's lab.json, the record of what `up` created.
import { readFile, writeFile } from "node:fs/promises";
import { labPaths, resolveLabDir } from "./lab-layout.js";
import type { Lab } from "./lab-types.js";

/** The lab as last written to lab.json, or null if there is none. */
export async function loadLab(name: string): Promise<Lab | null> {
  const text = await readFile(labPaths({ dir: resolveLabDir(name) }).json, "utf8").catch(() => null);
  return text === null ? null : (JSON.parse(text) as Lab);
}

export async function saveLab(lab: Lab): Promise<void> {
  await writeFile(labPaths(lab).json, JSON.stringify(lab, null, 2) + "\n");
}
