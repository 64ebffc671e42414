// Runs a command to completion and times it from spawn to exit, wall clock.
import { spawnSync } from "node:child_process";

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
