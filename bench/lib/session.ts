// What every benchmark script does before and after its runs: refuse to start without what it needs
// (exit 2, with the fix), and take its lab down and its files away once, at the end or on Ctrl-C/SIGTERM.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { downLab } from "../../test/lab/lab.js";

/** The repository the benchmarks run from, and its `hive` binary. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const HIVE_BIN = join(REPO, "bin", "hive");

/** Says what is wrong and exits 2 (a benchmark that can not start is a usage error, not a result). */
export function failBench(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

/** hive built, and root when `labWhy` says why the benchmark needs the lab. */
export function requireBenchStart(labWhy: string | null): void {
  if (labWhy !== null && process.getuid?.() !== 0) failBench(`${labWhy}, which needs root`);
  if (!existsSync(join(REPO, "dist", "cli", "main.js"))) failBench("hive is not built; run `npm run build` first");
}

export interface LabBenchSession {
  /** A fresh private directory for the run's files. */
  dir: string;
  /** Takes the lab down and removes `dir` (unless kept); the same promise however often it is called. */
  cleanUp: () => Promise<void>;
}

/** A temp directory and the lab `labName`, both cleaned up once: by `cleanUp()`, or on SIGINT/SIGTERM (exit 130/143). */
export function labBenchSession(labName: string, prefix: string, keep: () => boolean = () => false): LabBenchSession {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      process.stderr.write(`taking lab ${labName} down\n`);
      try {
        await downLab(labName);
      } finally {
        if (keep()) process.stderr.write(`kept the run's files in ${dir}\n`);
        else rmSync(dir, { recursive: true, force: true });
      }
    })();
    return cleaning;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(signal === "SIGINT" ? 130 : 143)));
  }
  return { dir, cleanUp };
}
