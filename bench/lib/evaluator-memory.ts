// Memory of the Nix evaluators a command runs, sampled from /proc (Linux): the sum of the memory of the
// evaluators running at once, and the largest single one (its high-water mark).
import { readdirSync, readFileSync } from "node:fs";

export interface EvaluatorMemory {
  /**
   * Largest sum over evaluators running at the same sample, bytes: of their proportional set sizes (resident
   * memory, pages shared between processes split among them), so a fork that has not exec'd yet and still
   * shares its parent's pages does not count them twice. VmRSS where PSS is unavailable.
   */
  peakSumBytes: number;
  /** Largest VmHWM (peak resident set) of any one evaluator, bytes. */
  peakSingleBytes: number;
  /** Most evaluators seen at one sample. */
  peakConcurrent: number;
  /** Distinct evaluator processes seen, not counting forks of an evaluator (same command line as their parent). */
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

const kib = (text: string, name: string) => {
  const value = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1];
  return value === undefined ? undefined : Number(value) * 1024;
};

function readMemory(pid: number): { size: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    let pss: number | undefined;
    try {
      pss = kib(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss");
    } catch {
      // Kernels before 4.14: resident set size instead.
    }
    return { size: pss ?? kib(status, "VmRSS") ?? 0, hwm: kib(status, "VmHWM") ?? 0 };
  } catch {
    return null;
  }
}

function readCommandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8");
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
      let fork: boolean;
      try {
        const commandLine = readCommandLine(pid);
        if (!isEvaluator(commandLine.split("\0").filter(Boolean))) continue;
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
        key = `${pid}:${stat[19] ?? ""}`;
        fork = readCommandLine(Number(stat[1])) === commandLine;
      } catch {
        continue;
      }
      const memory = readMemory(pid);
      if (memory === null) continue;
      if (!fork) seenEvaluators.add(key);
      running += fork ? 0 : 1;
      sum += memory.size;
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
