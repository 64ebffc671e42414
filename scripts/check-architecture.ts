// Checks the shape docs/architecture.md promises, so it cannot rot: one door per dependency
// (ssh2 only under src/ssh, execa only in the runner), nothing outside src/cli imports the CLI,
// no import cycles between folders or files, and no file too large to hold one concern.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const MAX_LINES = 400;
const MAX_COMMAND_LINES = 150;

function listAll(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "node_modules" || entry === "fixtures") return [];
    if (statSync(path).isDirectory()) return listAll(path);
    return /\.(ts|mts|js)$/.test(path) ? [path] : [];
  });
}

function listSources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return listSources(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every module a file imports (static, dynamic and type-only), as written. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)) found.push(match[1] ?? match[2]!);
  return found;
}

/** The folder under src/ a file belongs to; files directly in src/ are their own unit. */
function unitOf(file: string): string {
  const rel = relative(src, file);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel.replace(/\.ts$/, "");
}

const problems: string[] = [];
const files = listSources(src);
const fileGraph = new Map<string, string[]>();
const unitGraph = new Map<string, Set<string>>();
for (const file of files) {
  const rel = relative(root, file);
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n").length;
  if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines (at most ${MAX_LINES}): does it hold two concerns?`);
  if (rel.startsWith("src/cli/commands/") && lines > MAX_COMMAND_LINES) problems.push(`${rel}: ${lines} lines (a command file is at most ${MAX_COMMAND_LINES}: keep it a thin adapter)`);
  const local: string[] = [];
  for (const spec of importsOf(text)) {
    if (spec === "ssh2" && !rel.startsWith("src/ssh/")) problems.push(`${rel}: imports ssh2 (only src/ssh may)`);
    if ((spec === "execa" || spec === "node:child_process") && rel !== "src/nix/runner.ts") problems.push(`${rel}: imports ${spec} (only src/nix/runner.ts may)`);
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
    if (!target.startsWith(src)) continue;
    local.push(target);
    if (relative(src, target).startsWith("cli/") && !rel.startsWith("src/cli/")) problems.push(`${rel}: imports ${relative(root, target)} (nothing outside src/cli imports the CLI)`);
    const [from, to] = [unitOf(file), unitOf(target)];
    if (from !== to) unitGraph.set(from, (unitGraph.get(from) ?? new Set()).add(to));
  }
  fileGraph.set(file, local);
}

/** Every cycle found by depth-first search, each reported once. */
function cycles<T>(graph: Map<T, Iterable<T>>, show: (node: T) => string): string[] {
  const found = new Set<string>();
  const state = new Map<T, "active" | "done">();
  const stack: T[] = [];
  const visit = (node: T) => {
    state.set(node, "active");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "active") found.add([...stack.slice(stack.indexOf(next)), next].map(show).join(" -> "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return [...found];
}

// Dead exports: exported names nothing else mentions (tests, scripts and benchmarks count as users;
// src/index.ts is the package's public API), as knip reports them with ignoreExportsUsedInFile.
const everyFile = [src, join(root, "test"), join(root, "scripts"), join(root, "bench")].flatMap((dir) => listAll(dir));
const texts = new Map(everyFile.map((f) => [f, readFileSync(f, "utf8")]));
for (const file of files) {
  if (relative(root, file) === "src/index.ts") continue;
  const text = texts.get(file)!;
  for (const match of text.matchAll(/^export (?:async )?(?:function\*?|const|let|class|interface|type|enum|abstract class) ([A-Za-z0-9_$]+)/gm)) {
    const name = match[1]!;
    const pattern = `\\b${name.replace(/\$/g, "\\$")}\\b`;
    // Used elsewhere, or in its own file beyond the declaration (a parameter type, a helper of an export).
    const used = (text.match(new RegExp(pattern, "g"))?.length ?? 0) > 1 || [...texts].some(([other, body]) => other !== file && new RegExp(pattern).test(body));
    if (!used) problems.push(`${relative(root, file)}: exports ${name}, which no other file uses (drop the export, or the code)`);
  }
}

for (const cycle of cycles(unitGraph, (u) => u)) problems.push(`import cycle between folders: ${cycle}`);
for (const cycle of cycles(fileGraph, (f) => relative(root, f))) problems.push(`import cycle between files: ${cycle}`);

if (problems.length > 0) {
  console.error(`architecture check: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join("\n")}`);
  process.exit(1);
}
console.log(`architecture check: ${files.length} files in ${new Set(files.map(unitOf)).size} units; no cycles, one door per dependency, no file over ${MAX_LINES} lines`);
