// Runs one generator's command in a private directory: inputs in $in, outputs read back from $out, then wiped.
import { lstat, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ResolvedGenerator } from "../config/generators.js";
import type { ByteRunner } from "../nix/runner.js";
import { quoteCommand } from "../ssh/quote.js";
import { makePrivateDir } from "./private-dir.js";

export interface GeneratorInputFiles {
  generator: string;
  /** File name to content; secret ones decrypted, in memory. */
  files: Map<string, Uint8Array>;
}

export interface RunGeneratorOptions {
  runner: ByteRunner;
  /** hive.ts's directory: a command `./script` or `../script` is found there. */
  hiveDir: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

export type GeneratorRun = { ok: true; files: Map<string, Buffer> } | { ok: false; message: string; log: string[] };

const STDERR_LINES = 10;

/**
 * Runs the command with `$out` (write each declared file there; also its working directory),
 * `$in/<generator>/<file>` (the dependencies' files), `$TMPDIR`, `$HIVE_GENERATOR` and, per node,
 * `$HIVE_NODE`, all inside one fresh 0700 directory that is zeroed and removed afterwards. A
 * failure (non-zero exit, a declared file missing, not a regular file, or a public file that is
 * not text) returns a message and keeps nothing.
 */
export async function runGenerator(
  generator: Pick<ResolvedGenerator, "name" | "command" | "files">,
  node: string | null,
  inputs: readonly GeneratorInputFiles[],
  options: RunGeneratorOptions,
): Promise<GeneratorRun> {
  const env = { ...process.env, ...options.env };
  const dir = await makePrivateDir(env);
  try {
    const out = join(dir.path, "out");
    const inputDir = join(dir.path, "in");
    const tmp = join(dir.path, "tmp");
    for (const d of [out, inputDir, tmp]) await mkdir(d, { mode: 0o700 });
    for (const input of inputs) {
      await mkdir(join(inputDir, input.generator), { mode: 0o700 });
      for (const [name, bytes] of input.files) await writeFile(join(inputDir, input.generator, name), bytes, { flag: "wx", mode: 0o600 });
    }
    const [program, ...args] = generator.command;
    const file = /^\.\.?\//.test(program!) ? resolve(options.hiveDir, program!) : program!;
    const result = await options.runner.runForBytes(file, args, {
      cwd: out,
      env: { ...options.env, out, in: inputDir, TMPDIR: tmp, HIVE_GENERATOR: generator.name, HIVE_NODE: node ?? undefined },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    result.stdout.fill(0);
    const log = result.stderr.split("\n").filter((l) => l.trim() !== "").slice(-STDERR_LINES);
    const shown = quoteCommand(generator.command);
    if (result.spawnError !== undefined) return { ok: false, message: `command ${shown} could not start: ${result.spawnError}`, log };
    if (result.exitCode !== 0) return { ok: false, message: `command ${shown} exited ${result.exitCode}${log.length > 0 ? `: ${log.at(-1)}` : ""}`, log };
    return await collectOutputs(generator, out, log);
  } finally {
    await dir.remove();
  }
}

async function collectOutputs(generator: Pick<ResolvedGenerator, "files">, out: string, log: string[]): Promise<GeneratorRun> {
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(generator.files)) {
    const path = join(out, name);
    const stats = await lstat(path).catch(() => null);
    if (stats === null) {
      missing.push(name);
      continue;
    }
    if (!stats.isFile()) {
      problems.push(`${name} is not a regular file`);
      continue;
    }
    const bytes = await readFile(path);
    if (!spec.secret && !isText(bytes)) problems.push(`public file ${name} is not UTF-8 text (Nix strings cannot hold it): mark it secret, or encode it (base64)`);
    files.set(name, bytes);
  }
  if (missing.length > 0) {
    const written = (await readdir(out).catch(() => [])).sort();
    problems.unshift(`the command did not write ${missing.join(", ")} (it wrote ${written.length === 0 ? "nothing" : written.join(", ")})`);
  }
  if (problems.length > 0) {
    for (const bytes of files.values()) bytes.fill(0);
    return { ok: false, message: problems.join("; "), log };
  }
  return { ok: true, files };
}

function isText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
