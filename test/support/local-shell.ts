// Runs node scripts on this machine with sh, as a node would as root: for unit tests of node-side scripts.
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { CommandResult, NodeShell } from "../../src/node/shell.js";

export function localShell(): Pick<NodeShell, "run" | "runAsRoot"> & { scripts: string[] } {
  const scripts: string[] = [];
  const run = async (script: string, options: { stdin?: string | NodeJS.ReadableStream } = {}): Promise<CommandResult> => {
    scripts.push(script);
    const chunks: Buffer[] = [];
    if (typeof options.stdin === "string") chunks.push(Buffer.from(options.stdin));
    else if (options.stdin !== undefined) for await (const chunk of options.stdin as Readable) chunks.push(Buffer.from(chunk as Buffer));
    return new Promise<CommandResult>((resolve) => {
      const child = spawn("sh", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.stdin.on("error", () => {});
      child.stdin.end(Buffer.concat(chunks));
      child.on("close", (code) => resolve({ exitCode: code, stdout, stderr, timedOut: false }));
    });
  };
  return { scripts, run, runAsRoot: run };
}
