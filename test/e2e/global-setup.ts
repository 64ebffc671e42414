// Brings up the shared e2e lab (`test`, 10.77, nodes t1..t6) once, and takes it down after.
import type { TestProject } from "vitest/node";
import { LAB_NIX_CONFIG, downLab, upLab, type Lab } from "../lab/lab.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared lab; absent when the lab could not run (not root), and tests skip. */
    lab?: Lab;
  }
}

export const E2E_LAB_NAME = "test";
const E2E_NODES = ["t1", "t2", "t3", "t4", "t5", "t6"];

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

  let down: Promise<void> | null = null;
  const takeDown = () => (down ??= downLab(E2E_LAB_NAME));
  const onSignal = (signal: NodeJS.Signals) => {
    void takeDown().finally(() => process.kill(process.pid, signal));
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) process.once(signal, onSignal);

  const started = performance.now();
  const lab = await upLab({ name: E2E_LAB_NAME, subnet: "10.77", nodes: E2E_NODES });
  console.log(`e2e lab ${lab.name}: ${lab.nodes.length} nodes up in ${Math.round(performance.now() - started)} ms`);
  project.provide("lab", lab);

  return async () => {
    for (const signal of signals) process.off(signal, onSignal);
    await takeDown();
  };
}
