// Runs a command to completion and times it from spawn to exit, wall clock; optionally with a timeline of its stderr.
import { spawn, spawnSync } from "node:child_process";

export interface TimedRun {
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

export function timeCommand(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): TimedRun {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.error) throw result.error;
  return { ms, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface TimedLine {
  /** Milliseconds from spawn to the arrival of the line. */
  ms: number;
  text: string;
}

export interface StreamedRun extends TimedRun {
  /** stderr split into lines, each stamped with when it arrived: a timeline of what the command reported. */
  stderrLines: TimedLine[];
}

export interface StreamingOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The child's pid is in this set while it runs (e.g. for a sampler that watches what is running). */
  running?: Set<number>;
}

/** Like timeCommand, but asynchronous, and stamps every stderr line with its arrival time. */
export function timeCommandStreaming(command: string, args: readonly string[], options: StreamingOptions = {}): Promise<StreamedRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    const pid = child.pid;
    if (pid !== undefined) options.running?.add(pid);
    const stdout: Buffer[] = [];
    const stderrLines: TimedLine[] = [];
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      const ms = elapsed();
      const parts = (pending + chunk.toString("utf8")).split("\n");
      pending = parts.pop() ?? "";
      for (const text of parts) stderrLines.push({ ms, text });
    });
    child.on("error", (error) => {
      if (pid !== undefined) options.running?.delete(pid);
      reject(error);
    });
    child.on("close", (status) => {
      if (pid !== undefined) options.running?.delete(pid);
      const ms = elapsed();
      if (pending !== "") stderrLines.push({ ms, text: pending });
      resolve({ ms, status, stdout: Buffer.concat(stdout).toString("utf8"), stderr: stderrLines.map((l) => l.text).join("\n"), stderrLines });
    });
  });
}
