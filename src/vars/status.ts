// `hive vars check` and `list` as data: each instance's verdict and files, from vars/ and hive.ts.
import { type VarInstance, storedFileName } from "../config/generators.js";
import type { Hive } from "../config/normalize.js";
import { type InstanceVerdict, type Manifest, type StoredState, judgeInstance } from "./manifest.js";
import { type PlannedInstance, instanceKey, planInstances } from "./plan.js";
import { readPublicFile, readStored } from "./store.js";

export interface FileStatus {
  name: string;
  secret: boolean;
  /** Path of the stored file relative to vars/. */
  stored: string;
  present: boolean;
  /** A public file's content (never a secret's). */
  value?: string;
}

export interface InstanceStatus extends PlannedInstance, InstanceVerdict {
  description?: string;
  /** The nodes that get these files. */
  nodes: string[];
  generatedAt: string | null;
  files: FileStatus[];
}

export interface VarsInspection {
  instances: InstanceStatus[];
  /** Manifests by instance key, for generate to record inputs. */
  manifests: Map<string, Manifest | null>;
}

/** Judges every instance the selection involves; `withValues` reads public files' content too. */
export async function inspectVars(hive: Pick<Hive, "nodes" | "vars">, selector: string | undefined, withValues = false): Promise<VarsInspection> {
  const planned = planInstances(hive, selector);
  const generators = new Map(hive.vars.generators.map((g) => [g.name, g]));
  const stored = new Map<string, StoredState>();
  for (const instance of planned) stored.set(instanceKey(instance), await readStored(hive.vars.dir, instance, generators.get(instance.generator)!));
  const manifests = new Map([...stored].map(([key, s]) => [key, s.manifest]));

  const instances: InstanceStatus[] = [];
  for (const instance of planned) {
    const generator = generators.get(instance.generator)!;
    const state = stored.get(instanceKey(instance))!;
    const dependencies = Object.fromEntries(instance.inputs.map((input) => [input.generator, manifests.get(instanceKey(input)) ?? null]));
    const files: FileStatus[] = [];
    for (const [name, file] of Object.entries(generator.files)) {
      const storedName = storedFileName(name, file.secret);
      const present = state.hashes[storedName] != null;
      const value = withValues && !file.secret && present ? await readPublicFile(hive.vars.dir, instance, name) : null;
      files.push({ name, secret: file.secret, stored: relativeStored(instance, storedName), present, ...(value === null ? {} : { value }) });
    }
    instances.push({
      ...instance,
      ...judgeInstance(generator, state, dependencies, hive.vars.recipients),
      ...(generator.description === undefined ? {} : { description: generator.description }),
      nodes: instance.node === null ? [...generator.nodes] : [instance.node],
      generatedAt: state.manifest?.generatedAt ?? null,
      files,
    });
  }
  return { instances, manifests };
}

function relativeStored(instance: VarInstance, file: string): string {
  return instance.node === null ? `shared/${instance.generator}/${file}` : `nodes/${instance.node}/${instance.generator}/${file}`;
}
