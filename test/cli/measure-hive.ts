// Runs bin/hive while watching its peak memory (VmHWM) and wall time, with a reader of its stdout as fast or as slow as asked.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { HIVE_BIN } from "./run-hive.js";

export interface MeasuredRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `keepStdout` bytes of stdout, and how many there were in all. */
  stdoutTail: string;
  stdoutBytes: number;
  stderr: string;
  /** hive's peak resident memory, from /proc/PID/status while it ran. */
  peakRssKiB: number;
  wallMs: number;
  /** Set when hive outlived `timeoutMs` and was killed. */
  killed: boolean;
}

export interface RunningMeasured {
  pid: number;
  /** hive's peak resident memory so far. */
  peakRssKiB(): number;
  stderr(): string;
  /** Starts reading stdout (for runs that began with a reader that does not read). */
  readStdout(): void;
  kill(signal: NodeJS.Signals): void;
  done: Promise<MeasuredRun>;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill hive (SIGKILL) after this long: a test must end even when hive does not. */
  timeoutMs: number;
  /** false: nothing reads hive's stdout (like `hive ... | sleep 25`) until readStdout() is called. */
  readStdout?: boolean;
  keepStdout?: number;
}

function readPeakKiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function startHiveMeasured(args: string[], options: MeasureOptions): RunningMeasured {
  const started = performance.now();
  const child = spawn(process.execPath, [HIVE_BIN, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = options.keepStdout ?? 64 * 1024;
  let tail = Buffer.alloc(0);
  let stdoutBytes = 0;
  let stderr = "";
  let peak = 0;
  let killed = false;
  const sample = () => {
    const kib = readPeakKiB(child.pid!);
    if (kib !== null) peak = Math.max(peak, kib);
  };
  const sampler = setInterval(sample, 50);
  const deadline = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  const onStdout = (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > keep) tail = tail.subarray(tail.length - keep);
  };
  const startReading = () => child.stdout.on("data", onStdout);
  if (options.readStdout === false) child.stdout.pause();
  else startReading();
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<MeasuredRun>((resolve) => {
    child.on("exit", sample);
    child.on("close", (code, signal) => {
      clearInterval(sampler);
      clearTimeout(deadline);
      resolve({ code, signal, stdoutTail: tail.toString(), stdoutBytes, stderr, peakRssKiB: peak, wallMs: performance.now() - started, killed });
    });
  });
  return {
    pid: child.pid!,
    peakRssKiB: () => {
      sample();
      return peak;
    },
    stderr: () => stderr,
    readStdout: startReading,
    kill: (signal) => child.kill(signal),
    done,
  };
}

export function runHiveMeasured(args: string[], options: MeasureOptions): Promise<MeasuredRun> {
  return startHiveMeasured(args, options).done;
}
