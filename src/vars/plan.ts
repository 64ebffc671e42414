// Which generator instances a `hive vars` command works on, in an order where dependencies come first: pure.
import { type ResolvedGenerator, type VarInstance, instanceFor } from "../config/generators.js";
import type { Hive } from "../config/normalize.js";
import { selectNodes } from "../selection/selector.js";

export interface PlannedInstance extends VarInstance {
  /** The instances it reads, in dependency order. */
  inputs: VarInstance[];
}

/**
 * Instances for the selected nodes (all without a selector): per-node ones of those nodes, shared
 * ones that any of them has (every shared one without a selector), plus whatever they read.
 * Generators in dependency order, then nodes in hive.ts order; shared before per-node.
 */
export function planInstances(hive: Pick<Hive, "nodes" | "vars">, selector: string | undefined): PlannedInstance[] {
  const selected = new Set(selectNodes(hive.nodes, selector).map((n) => n.name));
  const generators = orderGenerators(hive.vars.generators);
  const byName = new Map(generators.map((g) => [g.name, g]));
  const wanted = new Map<string, PlannedInstance>();
  const add = (generator: ResolvedGenerator, node: string | null) => {
    const instance: VarInstance = node === null ? { generator: generator.name, node: null } : instanceFor(generator, node);
    const key = instanceKey(instance);
    if (wanted.has(key)) return;
    const inputs = generator.dependencies.map((d) => (instance.node === null ? { generator: d, node: null } : instanceFor(byName.get(d)!, instance.node)));
    wanted.set(key, { ...instance, inputs });
    for (const input of inputs) add(byName.get(input.generator)!, input.node);
  };
  for (const generator of generators) {
    if (generator.share) {
      if (selector === undefined || generator.nodes.some((n) => selected.has(n))) add(generator, null);
    } else {
      for (const node of generator.nodes) if (selected.has(node)) add(generator, node);
    }
  }
  const rank = new Map(generators.map((g, i) => [g.name, i]));
  const nodeRank = new Map(hive.nodes.map((n, i) => [n.name, i]));
  return [...wanted.values()].sort(
    (a, b) => rank.get(a.generator)! - rank.get(b.generator)! || (a.node === null ? -1 : nodeRank.get(a.node)!) - (b.node === null ? -1 : nodeRank.get(b.node)!),
  );
}

export function instanceKey(instance: VarInstance): string {
  return instance.node === null ? `${instance.generator}` : `${instance.generator}@${instance.node}`;
}

/** Generators with each after its dependencies (hive.ts order otherwise); the rules have ruled out cycles. */
export function orderGenerators(generators: readonly ResolvedGenerator[]): ResolvedGenerator[] {
  const byName = new Map(generators.map((g) => [g.name, g]));
  const ordered: ResolvedGenerator[] = [];
  const placed = new Set<string>();
  const place = (generator: ResolvedGenerator) => {
    if (placed.has(generator.name)) return;
    placed.add(generator.name);
    for (const dependency of generator.dependencies) {
      const g = byName.get(dependency);
      if (g) place(g);
    }
    ordered.push(generator);
  };
  generators.forEach(place);
  return ordered;
}
