// Starts local processes (nix, git): the only user of execa and child_process, and the seam tests replace.
import { execa } from "execa";

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** Each line of stderr as it arrives (Nix writes its progress and errors there). */
  onStderrLine?: (line: string) => void;
  onStdoutLine?: (line: string) => void;
  signal?: AbortSignal;
  /** The child's pid once it runs (e.g. to watch its memory). */
  onSpawn?: (pid: number) => void;
}

export interface ProcessResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ProcessRunner {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult>;
}

/** A process whose stdout was kept as bytes. */
export interface ByteProcessResult {
  command: string;
  exitCode: number;
  /** Exactly the bytes the process wrote: never decoded, never logged. */
  stdout: Buffer;
  stderr: string;
  /** Why the process could not start at all (`spawn pass ENOENT`); exitCode is then 127. */
  spawnError?: string;
}

/** Runs processes whose stdout must stay bytes: secrets (keys' `command`), binary output. */
export interface ByteRunner {
  runForBytes(file: string, args: readonly string[], options?: Pick<RunOptions, "env" | "cwd" | "signal" | "onStderrLine">): Promise<ByteProcessResult>;
}

/** Real processes. Children get their own process group: the terminal's Ctrl-C reaches hive, not them. */
export const execaRunner: ProcessRunner & ByteRunner = {
  async run(file, args, options = {}) {
    const child = execa(file, [...args], {
      env: options.env,
      cwd: options.cwd,
      input: options.input,
      reject: false,
      detached: true,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      stripFinalNewline: false,
      stdin: options.input === undefined ? "ignore" : "pipe",
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    forEachLine(child.stderr, options.onStderrLine);
    forEachLine(child.stdout, options.onStdoutLine);
    const result = await child;
    return {
      command: [file, ...args].join(" "),
      exitCode: result.exitCode ?? (result.signal ? 128 : 1),
      stdout: String(result.stdout ?? ""),
      stderr: String(result.stderr ?? ""),
    };
  },

  async runForBytes(file, args, options = {}) {
    const child = execa(file, [...args], {
      env: options.env,
      cwd: options.cwd,
      reject: false,
      detached: true,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      stripFinalNewline: false,
      stdin: "ignore",
      encoding: "buffer",
    });
    forEachLine(child.stderr, options.onStderrLine);
    const result = await child;
    const stdout = result.stdout instanceof Uint8Array ? Buffer.from(result.stdout.buffer, result.stdout.byteOffset, result.stdout.byteLength) : Buffer.alloc(0);
    const notStarted = result.exitCode === undefined && result.signal === undefined;
    return {
      command: [file, ...args].join(" "),
      exitCode: result.exitCode ?? (notStarted ? 127 : 128),
      stdout,
      stderr: result.stderr instanceof Uint8Array ? Buffer.from(result.stderr).toString("utf8") : "",
      ...(notStarted ? { spawnError: result.originalMessage ?? "the process did not start" } : {}),
    };
  },
};

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: ((line: string) => void) | undefined): void {
  if (stream === null || onLine === undefined) return;
  let pending = "";
  stream.on("data", (chunk: Buffer | string) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
  stream.on("end", () => {
    if (pending !== "") onLine(pending);
  });
}
