// Memory of the Nix evaluators a command runs, sampled from /proc (Linux): the sum of the resident sets of the
// evaluators running at once, and the largest single one (its high-water mark).
import { readdirSync, readFileSync } from "node:fs";

export interface EvaluatorMemory {
  /** Largest sum of VmRSS over evaluators running at the same sample, bytes. */
  peakSumBytes: number;
  /** Largest VmHWM (peak resident set) of any one evaluator, bytes. */
  peakSingleBytes: number;
  /** Most evaluators seen at one sample. */
  peakConcurrent: number;
  /** Distinct evaluator processes seen. */
  processes: number;
  samples: number;
}

/**
 * Whether a command line is a Nix evaluator: nix-instantiate, nix-build, nix-eval-jobs, or `nix` running a
 * subcommand that evaluates (eval, build, flake, repl, path-info of an installable). `nix copy`, `nix-store` and
 * ssh are not.
 */
export function isEvaluator(argv: readonly string[]): boolean {
  const program = (argv[0] ?? "").split("/").pop() ?? "";
  if (["nix-instantiate", "nix-build", "nix-eval-jobs"].includes(program)) return true;
  if (program !== "nix") return false;
  return argv.slice(1).some((arg) => ["eval", "build", "flake", "repl", "path-info", "derivation"].includes(arg));
}

function readChildren(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return []; // gone between listing and reading
  }
}

function readMemory(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return null;
  }
}

/** Everything under the roots, roots included. */
function collectTree(roots: readonly number[]): number[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    stack.push(...readChildren(pid));
  }
  return [...seen];
}

/**
 * Samples every `intervalMs` the process trees under `roots()` (e.g. the command being measured) until stop().
 * Evaluators that live shorter than one interval can be missed; their memory is then small anyway.
 */
export function sampleEvaluatorMemory(roots: () => readonly number[], intervalMs = 100): { stop: () => EvaluatorMemory } {
  const result: EvaluatorMemory = { peakSumBytes: 0, peakSingleBytes: 0, peakConcurrent: 0, processes: 0, samples: 0 };
  // Evaluators seen, as pid:starttime (a recycled pid is a new process). Each sample reads the command line
  // afresh: a child between fork and exec still shows its parent's, and is an evaluator only until it execs.
  const seenEvaluators = new Set<string>();
  const sample = () => {
    let sum = 0;
    let running = 0;
    for (const pid of collectTree(roots())) {
      let key: string;
      try {
        if (!isEvaluator(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean))) continue;
        key = `${pid}:${readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[19] ?? ""}`;
      } catch {
        continue;
      }
      const memory = readMemory(pid);
      if (memory === null) continue;
      seenEvaluators.add(key);
      running++;
      sum += memory.rss;
      result.peakSingleBytes = Math.max(result.peakSingleBytes, memory.hwm);
    }
    result.samples++;
    result.peakSumBytes = Math.max(result.peakSumBytes, sum);
    result.peakConcurrent = Math.max(result.peakConcurrent, running);
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      result.processes = seenEvaluators.size;
      return { ...result };
    },
  };
}
