// hive.ts `vars` resolved against the fleet: each generator's nodes, where its files live, and the keys it adds.
import { join } from "node:path";
import { selectNodes } from "../selection/selector.js";
import type { NodeKey, VarKeySource } from "./node-key.js";
import type { Generator, VarFile, Vars } from "./schema.js";

/** A generator with its nodes worked out. */
export interface ResolvedGenerator extends Generator {
  name: string;
  /** The nodes its `on` selects (every node without one), in hive.ts order; empty when `problem` is set. */
  nodes: string[];
  /** Why `on` selects nothing, for the rules to report. */
  problem?: string;
}

/** One stored set of a generator's files: per node, or the one shared set (`node` null). */
export interface VarInstance {
  generator: string;
  node: string | null;
}

/** vars/ next to hive.ts. */
export function varsDirOf(hiveDir: string): string {
  return join(hiveDir, "vars");
}

/** `vars/shared/<generator>` or `vars/nodes/<node>/<generator>`: one instance's directory. */
export function instanceDir(varsDir: string, instance: VarInstance): string {
  return instance.node === null ? join(varsDir, "shared", instance.generator) : join(varsDir, "nodes", instance.node, instance.generator);
}

/** The stored file of a generated file: `<file>.age` for secrets (age-encrypted), `<file>` for public ones. */
export function storedFileName(file: string, secret: boolean): string {
  return secret ? `${file}.age` : file;
}

/** The instance that holds a node's files of this generator. */
export function instanceFor(generator: Pick<ResolvedGenerator, "name" | "share">, node: string): VarInstance {
  return { generator: generator.name, node: generator.share ? null : node };
}

/** Each generator's `on` evaluated against the nodes (with their roles); a selector that fails is kept as a problem. */
export function resolveGenerators(vars: Vars, nodes: readonly { name: string; tags: readonly string[]; roles: readonly string[] }[]): ResolvedGenerator[] {
  return Object.entries(vars.generators).map(([name, generator]) => {
    if (generator.on === undefined) return { ...generator, name, nodes: nodes.map((n) => n.name) };
    const selector = [generator.on].flat().join(",");
    if (selector === "") return { ...generator, name, nodes: [] };
    try {
      return { ...generator, name, nodes: selectNodes(nodes, selector).map((n) => n.name) };
    } catch (error) {
      return { ...generator, name, nodes: [], problem: (error as Error).message };
    }
  });
}

/** Turns a key's `var: "generator/file"` into the file it reads, for `node`. */
export type VarResolver = (node: string, generator: string, file: string) => VarKeySource;

export function makeVarResolver(varsDir: string, generators: Record<string, Pick<Generator, "share">>, identity: string | undefined): VarResolver {
  return (node, generator, file) => {
    // An unknown generator is reported by the rules; its path is then never read.
    const shared = generators[generator]?.share ?? false;
    return {
      generator,
      file,
      path: join(instanceDir(varsDir, { generator, node: shared ? null : node }), storedFileName(file, true)),
      ...(identity === undefined ? {} : { identity }),
    };
  };
}

/** The keys a node gets from its generators: every secret file not marked `deploy: false`, named `generator/file`. */
export function generatedKeys(node: string, generators: readonly ResolvedGenerator[], resolveVar: VarResolver): Record<string, NodeKey> {
  const keys: Record<string, NodeKey> = {};
  for (const generator of generators) {
    if (!generator.nodes.includes(node)) continue;
    for (const [file, spec] of Object.entries(generator.files)) {
      if (!spec.secret || spec.deploy === false) continue;
      keys[`${generator.name}/${file}`] = generatedKey(generator.name, file, spec, resolveVar(node, generator.name, file));
    }
  }
  return keys;
}

function generatedKey(generator: string, file: string, spec: VarFile, source: VarKeySource): NodeKey {
  return {
    destDir: spec.destDir ?? `/run/keys/vars/${generator}`,
    name: spec.name ?? file,
    user: spec.user ?? "root",
    group: spec.group ?? "root",
    permissions: spec.permissions ?? "0600",
    uploadAt: spec.uploadAt ?? "pre-activation",
    var: source,
  };
}

/** A dependency cycle among generators, as the names along it (first repeated last), or null. */
export function findDependencyCycle(generators: readonly Pick<ResolvedGenerator, "name" | "dependencies">[]): string[] | null {
  const byName = new Map(generators.map((g) => [g.name, g]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (name: string): string[] | null => {
    if (state.get(name) === "done" || !byName.has(name)) return null;
    if (state.get(name) === "visiting") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "visiting");
    path.push(name);
    for (const dependency of byName.get(name)!.dependencies) {
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, "done");
    return null;
  };
  for (const generator of generators) {
    const cycle = visit(generator.name);
    if (cycle) return cycle;
  }
  return null;
}
