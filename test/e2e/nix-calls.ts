// Counts the Nix processes hive starts: a PATH of wrappers that log each call, then run the real tool.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface NixCalls {
  /** Environment for hive: the wrappers first in PATH. */
  env: NodeJS.ProcessEnv;
  /** The calls since the last reset, one line each (`nix eval ...`, `nix-store --realise ...`). */
  calls(): string[];
  reset(): void;
}

export function countNixCalls(dir: string): NixCalls {
  const bin = join(dir, "counting-bin");
  const logFile = join(dir, "nix-calls.log");
  mkdirSync(bin, { recursive: true });
  for (const tool of ["nix", "nix-store"]) {
    const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" | head -c 200 >> ${logFile}; echo >> ${logFile}\nexec ${real} "$@"\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  writeFileSync(logFile, "");
  return {
    env: { PATH: `${bin}:${process.env["PATH"]}` },
    calls: () => readFileSync(logFile, "utf8").split("\n").filter((l) => l !== ""),
    reset: () => writeFileSync(logFile, ""),
  };
}
