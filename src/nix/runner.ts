// Starts local processes (nix, git): the only user of execa, and the seam tests replace.
import { execa } from "execa";

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** Each line of stderr as it arrives (Nix writes its progress and errors there). */
  onStderrLine?: (line: string) => void;
  onStdoutLine?: (line: string) => void;
  signal?: AbortSignal;
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

/** Real processes. Children get their own process group: the terminal's Ctrl-C reaches hive, not them. */
export const execaRunner: ProcessRunner = {
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
