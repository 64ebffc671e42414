// Starts local processes (nix, git): the only user of execa and child_process, and the seam tests replace.
import { execa } from "execa";
import { LineSplitter } from "../util/line-splitter.js";

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
  /** The stream that went past its limit; the process was then killed and that stream cut short. */
  tooLarge?: "stdout" | "stderr";
}

/** Limits of runForBytes: stdout as given (default 100 MB), stderr 1 MiB. */
export interface ByteRunOptions extends Pick<RunOptions, "env" | "cwd" | "signal" | "onStderrLine"> {
  maxStdoutBytes?: number;
}

const MAX_STDERR_BYTES = 1024 * 1024;

/** Runs processes whose stdout must stay bytes: secrets (keys' `command`), binary output. */
export interface ByteRunner {
  runForBytes(file: string, args: readonly string[], options?: ByteRunOptions): Promise<ByteProcessResult>;
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
    const maxStdout = options.maxStdoutBytes ?? 100_000_000;
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
      // stdout is collected here, bounded (execa's own buffer costs many times the bytes it holds).
      buffer: { stdout: false, stderr: true },
      maxBuffer: { stderr: MAX_STDERR_BYTES },
    });
    forEachLine(child.stderr, options.onStderrLine);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge: "stdout" | "stderr" | undefined;
    child.stdout.on("data", (chunk: Uint8Array) => {
      if (tooLarge !== undefined) return;
      size += chunk.length;
      if (size > maxStdout) {
        tooLarge = "stdout";
        // What it printed may be a secret: wiped, not left to the garbage collector.
        for (const c of chunks) c.fill(0);
        chunks.length = 0;
        child.kill("SIGKILL");
        return;
      }
      chunks.push(Buffer.from(chunk));
    });
    const result = await child;
    if (tooLarge === undefined && result.isMaxBuffer) tooLarge = "stderr";
    const stdout = Buffer.concat(chunks);
    for (const c of chunks) c.fill(0);
    const notStarted = result.exitCode === undefined && result.signal === undefined && tooLarge === undefined;
    return {
      command: [file, ...args].join(" "),
      exitCode: result.exitCode ?? (notStarted ? 127 : 128),
      stdout,
      stderr: result.stderr instanceof Uint8Array ? Buffer.from(result.stderr).toString("utf8") : "",
      ...(notStarted ? { spawnError: result.originalMessage ?? "the process did not start" } : {}),
      ...(tooLarge === undefined ? {} : { tooLarge }),
    };
  },

};

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: ((line: string) => void) | undefined): void {
  if (stream === null || onLine === undefined) return;
  const lines = new LineSplitter(onLine);
  stream.on("data", (chunk: Buffer | string) => lines.push(chunk));
  stream.on("end", () => lines.end());
}
