// Runs node scripts on this machine with sh, as a node would as root: for unit tests of node-side scripts.
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { CommandResult, NodeShell } from "../../src/node/shell.js";

export interface LocalShellOptions {
  /** Changes each script's stdin on its way (e.g. cuts it short, as a lost connection would). */
  transform?: (stdin: Buffer) => Buffer;
}

/** The scripts run and the stdin each was sent (before any transform) are kept, in order. */
export function localShell(options: LocalShellOptions = {}): Pick<NodeShell, "run" | "runAsRoot"> & { scripts: string[]; stdins: Buffer[] } {
  const scripts: string[] = [];
  const stdins: Buffer[] = [];
  const run = async (script: string, runOptions: { stdin?: string | NodeJS.ReadableStream } = {}): Promise<CommandResult> => {
    scripts.push(script);
    const chunks: Buffer[] = [];
    if (typeof runOptions.stdin === "string") chunks.push(Buffer.from(runOptions.stdin));
    else if (runOptions.stdin !== undefined) for await (const chunk of runOptions.stdin as Readable) chunks.push(Buffer.from(chunk as Buffer));
    const input = Buffer.concat(chunks);
    stdins.push(input);
    return new Promise<CommandResult>((resolve) => {
      const child = spawn("sh", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.stdin.on("error", () => {});
      child.stdin.end(options.transform ? options.transform(input) : input);
      child.on("close", (code) => resolve({ exitCode: code, stdout, stderr, timedOut: false }));
    });
  };
  return { scripts, stdins, run, runAsRoot: run };
}
