// Brings up the shared e2e lab (`test`, 10.77, nodes t1..t6) once, and takes it down after.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { LAB_NIX_CONFIG, downLab, upLab, type Lab } from "../lab/lab.js";
import { acquireLabLock } from "../lab/lab-lock.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared lab; absent when the lab could not run (not root), and tests skip. */
    lab?: Lab;
  }
}

// Separate names and subnets let several e2e runs share a machine (HIVE_E2E_LAB=x HIVE_E2E_SUBNET=10.81).
export const E2E_LAB_NAME = process.env["HIVE_E2E_LAB"] ?? "test";
const E2E_SUBNET = process.env["HIVE_E2E_SUBNET"] ?? "10.77";
const E2E_NODES = ["t1", "t2", "t3", "t4", "t5", "t6"];
const LAB_CLI = fileURLToPath(new URL("../lab/cli.ts", import.meta.url));

function resolveJitiCli(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve("jiti")), "jiti-cli.mjs");
}

function warnLoudly(lines: string[]): void {
  const bar = "!".repeat(78);
  console.warn(["", bar, ...lines.map((l) => `!! ${l}`), bar, ""].join("\n"));
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  // Every nix call in tests is offline and needs flakes on Nix 2.8; workers inherit this.
  process.env.NIX_CONFIG = LAB_NIX_CONFIG;

  if (process.getuid?.() !== 0) {
    const why = "the e2e lab needs root (it creates network and mount namespaces)";
    if (process.env.CI) throw new Error(`${why}; CI must run the e2e tests as root`);
    warnLoudly([`SKIPPING ALL E2E TESTS: ${why}.`, "Run them as root: sudo npx vitest run --project e2e"]);
    return;
  }

  // Another e2e run on this machine would share (and take down) the same lab: take turns.
  const releaseLock = await acquireLabLock(E2E_LAB_NAME, {
    onWait: (owner) => console.warn(`waiting for pid ${owner.pid}, which is using lab ${E2E_LAB_NAME} (another e2e run)`),
  });

  // Vitest exits synchronously on SIGINT/SIGTERM, before any async teardown could finish, so
  // an interrupted run takes the lab down in a child process the exit waits for.
  let tornDown = false;
  const takeDownNow = () => {
    if (tornDown) return;
    tornDown = true;
    const result = spawnSync(process.execPath, [resolveJitiCli(), LAB_CLI, "down", "--name", E2E_LAB_NAME], { stdio: "inherit" });
    if (result.status !== 0) console.warn(`lab ${E2E_LAB_NAME} may still be up: npm run lab -- down --name ${E2E_LAB_NAME}`);
    releaseLock();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    takeDownNow();
    // With no one else listening, end the run as the signal would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  // First in line: vitest's own handlers call process.exit(), which skips later listeners.
  process.prependOnceListener("SIGINT", onSignal);
  process.prependOnceListener("SIGTERM", onSignal);
  process.prependOnceListener("exit", takeDownNow);

  const started = performance.now();
  const lab = await upLab({ name: E2E_LAB_NAME, subnet: E2E_SUBNET, nodes: E2E_NODES });
  console.log(`e2e lab ${lab.name}: ${lab.nodes.length} nodes up in ${Math.round(performance.now() - started)} ms`);
  project.provide("lab", lab);

  return async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", takeDownNow);
    if (tornDown) return;
    tornDown = true;
    try {
      await downLab(E2E_LAB_NAME);
    } finally {
      releaseLock();
    }
  };
}
