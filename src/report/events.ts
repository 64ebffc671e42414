// The typed events the core emits while it works; renderers (live, plain, JSON) consume them.
import type { NodeResult } from "./results.js";

export type Phase = "eval" | "build" | "connect" | "push" | "activate" | "verify" | "keys" | "check" | "rollback";

export type HiveEvent =
  | { kind: "phase"; node: string; phase: Phase }
  | { kind: "log"; node: string | undefined; source: "nix" | "activation"; line: string }
  | { kind: "node-done"; node: string; result: NodeResult; message?: string; durationMs: number }
  | { kind: "warning"; message: string }
  | { kind: "interrupt"; count: number };

export interface Reporter {
  emit(event: HiveEvent): void;
}

export const silentReporter: Reporter = { emit: () => {} };
