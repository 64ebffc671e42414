// Runs the built bin/hive as a user would, for CLI tests.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const HIVE_BIN = resolve(import.meta.dirname, "../../bin/hive");

export interface HiveRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runHive(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): HiveRun {
  const result = spawnSync(process.execPath, [HIVE_BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...options.env },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A temp directory outside the repo (no node_modules anywhere above) holding the given files. */
export function makeHiveDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "hive-cli-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

export interface RunningHive {
  pid: number;
  /** stderr so far. */
  stderr(): string;
  done: Promise<HiveRun>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts bin/hive without waiting, for tests that interrupt, kill or race it. */
export function startHive(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunningHive {
  const child = spawn(process.execPath, [HIVE_BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<HiveRun>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { pid: child.pid!, stderr: () => stderr, done, kill: (signal) => child.kill(signal) };
}

/** The `--json` document of a run, with its nodes by name; a run that printed no JSON fails loudly. */
export function parseHiveJson<Doc extends { nodes: { name: string }[] }>(run: HiveRun): HiveRun & { doc: Doc; byName: Record<string, Doc["nodes"][number]> } {
  let doc: Doc;
  try {
    doc = JSON.parse(run.stdout) as Doc;
  } catch {
    throw new Error(`hive printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, doc, byName: Object.fromEntries(doc.nodes.map((n) => [n.name, n])) };
}
