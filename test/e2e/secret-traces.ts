// For e2e tests of secrets: every form a leaked secret could take, and watchers for /proc, files and output.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The secret's longer lines, and the whole of it as base64, hex and a JSON string. */
export function tracesOf(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [
    ...secret.split("\n").filter((line) => line.length >= 16),
    bytes.toString("base64"),
    bytes.toString("base64").slice(0, 40),
    bytes.toString("hex"),
    bytes.toString("hex").slice(0, 40),
    bytes.toString("hex").toUpperCase().slice(0, 40),
    JSON.stringify(secret).slice(1, -1),
  ];
}

/** Throws naming `what` when `text` holds any trace. */
export function expectNoTrace(traces: readonly string[], what: string, text: string): void {
  for (const trace of traces) if (text.includes(trace)) throw new Error(`${what} contains a trace of a secret (${JSON.stringify(trace.slice(0, 12))}...)`);
}

/** Throttles stdin on its way to sudo on the node: a slow consumer, so an upload lasts long enough to be watched. */
export const SLOW_SUDO = ["sh", "-c", `perl -e '$|=1; while (sysread(STDIN, my $b, 16)) { syswrite(STDOUT, $b); select(undef, undef, undef, 0.03) }' | sudo -H -- "$@"`, "slow-sudo"];

/**
 * Samples every process's command line and environment until stopped (lab node processes are
 * host processes, so this watches both sides); `markers` prove the watcher saw a step run.
 */
export function watchProcesses(traces: readonly string[], markers: Record<string, string>) {
  const needles = traces.map((t) => Buffer.from(t));
  const marks = Object.entries(markers).map(([name, text]) => [name, Buffer.from(text)] as const);
  const leaks: string[] = [];
  const seen = new Set<string>();
  let sweeps = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      for (const pid of readdirSync("/proc")) {
        if (!/^\d+$/.test(pid)) continue;
        for (const file of ["cmdline", "environ"]) {
          let data: Buffer;
          try {
            data = readFileSync(`/proc/${pid}/${file}`);
          } catch {
            continue;
          }
          if (needles.some((t) => data.includes(t))) leaks.push(`/proc/${pid}/${file}: ${data.toString().replace(/\0/g, " ").slice(0, 80)}`);
          if (file === "cmdline") for (const [name, mark] of marks) if (data.includes(mark)) seen.add(name);
        }
      }
      sweeps += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { leaks, seen, sweeps };
    },
  };
}

/** Files under `dirs` holding any trace; the patterns are written to `patternsDir`, which is left out of the answer. */
export async function filesWithTraces(traces: readonly string[], dirs: string[], patternsDir: string): Promise<string[]> {
  const patterns = join(patternsDir, "patterns");
  writeFileSync(patterns, traces.join("\n") + "\n", { mode: 0o600 });
  const result = await new Promise<string>((resolve, reject) => {
    const child = spawn("grep", ["-rlF", "-s", "-D", "skip", "-f", patterns, ...dirs], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
  return result.split("\n").filter((l) => l !== "" && !l.startsWith(patternsDir));
}
