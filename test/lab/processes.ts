// Process plumbing for the lab: run commands, identify lab processes safely, wait for sshd.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import net from "node:net";
import type { ExecResult } from "./lab-types.js";

/** A command that exited non-zero; carries the command and the tail of its output. */
export class CommandFailed extends Error {
  override name = "CommandFailed";
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-10).join("\n");
    super(`${command} exited with ${result.exitCode}${tail ? `:\n${tail}` : ""}`);
  }
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs,
      killSignal: "SIGKILL",
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const result = {
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        exitCode: code ?? (signal ? 128 + (signalNumbers[signal] ?? 0) : 1),
      };
      if (result.exitCode !== 0 && !options.allowFailure) {
        reject(new CommandFailed([command, ...args].join(" "), result));
      } else {
        resolve(result);
      }
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

/** A pid with its start time, so a recycled pid (after a reboot) is never mistaken for ours. */
export interface ProcessId {
  pid: number;
  start: string;
}

/** Start time (clock ticks since boot) of a live, non-zombie process, or null. */
export function readProcessStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return null;
  return fields[19] ?? null;
}

export function identifyProcess(pid: number): ProcessId | null {
  const start = readProcessStart(pid);
  return start === null ? null : { pid, start };
}

export function isProcessRunning(id: ProcessId | null | undefined): boolean {
  return !!id && readProcessStart(id.pid) === id.start;
}

/** Inode of a network namespace file, e.g. /run/netns/hl-demo-1, or null if it is gone. */
export function readNetnsInode(file: string): number | null {
  try {
    return statSync(file).ino;
  } catch {
    return null;
  }
}

/** Pids of every live process, grouped by the inode of its network namespace (one /proc scan). */
export function groupPidsByNetns(): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let ino: number;
    try {
      ino = statSync(`/proc/${entry}/ns/net`).ino;
    } catch {
      continue;
    }
    const pids = groups.get(ino) ?? [];
    pids.push(Number(entry));
    groups.set(ino, pids);
  }
  return groups;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | Promise<T>): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
}

/** Sends a signal to each pid that is still ours, then waits until all are gone. */
export async function killProcesses(ids: ProcessId[], signal: NodeJS.Signals = "SIGKILL", timeoutMs = 5000): Promise<void> {
  for (const id of ids) {
    if (!isProcessRunning(id)) continue;
    try {
      process.kill(id.pid, signal);
    } catch {
      // Already gone.
    }
  }
  await waitFor(`pids ${ids.map((i) => i.pid).join(",")} to exit`, timeoutMs, () => ids.every((id) => !isProcessRunning(id)));
}

/** Like probeSsh, from inside a network namespace (for nodes the host cannot reach directly). */
export async function probeSshInNetns(netnsFile: string, address: string, timeoutMs = 1000): Promise<boolean> {
  const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  const script = `exec 3<>/dev/tcp/${address}/22 && head -c 4 <&3`;
  const result = await runCommand("nsenter", [`--net=${netnsFile}`, "timeout", seconds, "bash", "-c", script], { allowFailure: true });
  return result.stdout === "SSH-";
}

/** True when something at address:22 speaks SSH (reads the identification banner). */
export function probeSsh(address: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port: 22 });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("data", (data) => finish(data.toString().startsWith("SSH-")));
  });
}
