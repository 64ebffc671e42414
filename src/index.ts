// The nix-hive package API used in hive.ts: `defineHive` and the types behind it.
import type { HiveInput } from "./config/schema.js";

export type { GeneratorInput, HealthCheckInput, HiveInput, InventoryInput, KeyInput, MetaInput, NodeInput, ServiceInput, VarsInput } from "./config/schema.js";
export type { Hive, Node } from "./config/normalize.js";

/** Typed identity: gives hive.ts full types and editor completion. */
export function defineHive<const T extends HiveInput>(hive: T): T {
  return hive;
}
