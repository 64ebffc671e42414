// `hive vars generate` as data: run what is missing (or asked for), re-encrypt for new recipients, report each instance.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { type VarInstance, instanceDir, storedFileName } from "../config/generators.js";
import type { Hive } from "../config/normalize.js";
import { ConfigError, UsageError } from "../errors.js";
import type { Reporter, VarOutcome } from "../events.js";
import type { ByteRunner } from "../nix/runner.js";
import { didYouMean } from "../util/suggest.js";
import { type AgeIdentity, decryptWith, encryptFor, parseRecipients } from "./age.js";
import { loadIdentity } from "./identity.js";
import { type Manifest, definitionHash, describeInstance, normalizeRecipients, sha256 } from "./manifest.js";
import { instanceKey } from "./plan.js";
import { type GeneratorInputFiles, runGenerator } from "./run-generator.js";
import { type InstanceStatus, inspectVars } from "./status.js";
import { type FileToStore, readIfFile, writeInstance } from "./store.js";

export interface VarResult extends VarInstance {
  /** generated / rekeyed: written now; unchanged: up to date; stale: left as it is (needs --regenerate). */
  outcome: VarOutcome;
  /** Why it failed, was skipped or is stale. */
  message: string | null;
  /** A failed command's last lines of standard error. */
  log: string[];
}

export interface GenerateContext {
  hive: Pick<Hive, "dir" | "file" | "nodes" | "vars">;
  runner: ByteRunner;
  env?: Record<string, string | undefined>;
  reporter?: Reporter;
  now?: () => Date;
  signal?: AbortSignal;
}

export interface GenerateOptions {
  on?: string;
  /** Generators to run again even where their files are up to date (what depends on them follows). */
  regenerate?: readonly string[];
}

/**
 * Instances in dependency order: missing ones, those of `regenerate`, and those whose inputs were
 * generated in this run are generated; ones encrypted for other recipients are re-encrypted; stale
 * ones are left (reported). A failure stores nothing for that instance and skips what reads it.
 */
export async function generateVars(context: GenerateContext, options: GenerateOptions = {}): Promise<VarResult[]> {
  const { hive } = context;
  const emit = context.reporter?.emit.bind(context.reporter) ?? (() => {});
  const regenerate = new Set(options.regenerate ?? []);
  const { instances, manifests } = await inspectVars(hive, options.on);
  checkRegenerate(hive, regenerate, instances);

  const env = { ...process.env, ...context.env };
  let identity: Promise<AgeIdentity> | undefined;
  const getIdentity = () => (identity ??= loadIdentity(hive.vars.identity, env));
  let recipients: ReturnType<typeof parseRecipients> | undefined;
  const getRecipients = () => (recipients ??= parseRecipientsOrFail(hive));

  const generated = new Set<string>();
  const failed = new Map<string, string>();
  const results: VarResult[] = [];
  for (const instance of instances) {
    const key = instanceKey(instance);
    const done = (outcome: VarOutcome, message: string | null = null, log: string[] = []) => {
      results.push({ generator: instance.generator, node: instance.node, outcome, message, log });
      emit({ code: "vars.done", generator: instance.generator, node: instance.node, outcome, message });
    };
    const brokenInput = instance.inputs.find((input) => failed.has(instanceKey(input)));
    if (brokenInput !== undefined) {
      failed.set(key, "skipped");
      done("skipped", `its dependency ${describeInstance(brokenInput)} failed`);
      continue;
    }
    const inputsChanged = instance.inputs.some((input) => generated.has(instanceKey(input)));
    const action = instance.state === "missing" || regenerate.has(instance.generator) || inputsChanged ? "generate" : instance.state === "rekey" ? "rekey" : null;
    if (action === null) {
      if (instance.state === "stale") done("stale", `${instance.reasons.join("; ")}; run \`hive vars generate --regenerate ${instance.generator}\``);
      else done("unchanged");
      continue;
    }
    emit({ code: "vars.started", generator: instance.generator, node: instance.node, action });
    try {
      if (action === "generate") {
        const outcome = await generateInstance(context, instance, manifests, getIdentity, getRecipients);
        if (!outcome.ok) {
          failed.set(key, outcome.message);
          done("failed", `${describeInstance(instance)}: ${outcome.message}; nothing was stored`, outcome.log);
          continue;
        }
        manifests.set(key, outcome.manifest);
        generated.add(key);
        done("generated");
      } else {
        manifests.set(key, await rekeyInstance(context, instance, manifests.get(key)!, getIdentity, getRecipients));
        done("rekeyed");
      }
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const message = (error as Error).message;
      failed.set(key, message);
      done("failed", `${describeInstance(instance)}: ${message}; nothing was stored`);
    }
  }
  return results;
}

function checkRegenerate(hive: GenerateContext["hive"], regenerate: Set<string>, instances: readonly InstanceStatus[]): void {
  const names = hive.vars.generators.map((g) => g.name);
  for (const name of regenerate) {
    if (!names.includes(name)) throw new UsageError(`--regenerate ${name}: no generator ${JSON.stringify(name)}${didYouMean(name, names)}`, "`hive vars list` lists the generators");
    if (!instances.some((i) => i.generator === name)) {
      throw new UsageError(`--regenerate ${name}: generator ${name} is not for any selected node`, "widen --on, or drop it to regenerate on every node");
    }
  }
}

function parseRecipientsOrFail(hive: GenerateContext["hive"]): ReturnType<typeof parseRecipients> {
  try {
    return parseRecipients(hive.vars.recipients);
  } catch (error) {
    throw new ConfigError([`${hive.file.split("/").pop()}: ${(error as Error).message}`], "fix vars.recipients in hive.ts");
  }
}

type Generated = { ok: true; manifest: Manifest } | { ok: false; message: string; log: string[] };

async function generateInstance(
  context: GenerateContext,
  instance: InstanceStatus,
  manifests: Map<string, Manifest | null>,
  getIdentity: () => Promise<AgeIdentity>,
  getRecipients: () => ReturnType<typeof parseRecipients>,
): Promise<Generated> {
  const { hive } = context;
  const generator = hive.vars.generators.find((g) => g.name === instance.generator)!;
  const inputs = await readInputs(hive, instance.inputs, getIdentity);
  let run;
  try {
    run = await runGenerator(generator, instance.node, inputs, { runner: context.runner, hiveDir: hive.dir, env: context.env ?? {}, ...(context.signal ? { signal: context.signal } : {}) });
  } finally {
    for (const input of inputs) for (const bytes of input.files.values()) bytes.fill(0);
  }
  if (!run.ok) return run;
  const hasSecrets = Object.values(generator.files).some((f) => f.secret);
  const files: FileToStore[] = [];
  try {
    for (const [name, spec] of Object.entries(generator.files)) {
      const bytes = run.files.get(name)!;
      files.push({ name, secret: spec.secret, stored: spec.secret ? await encryptFor(getRecipients(), bytes) : Buffer.from(bytes) });
    }
  } finally {
    for (const bytes of run.files.values()) bytes.fill(0);
  }
  const manifest: Manifest = {
    version: 1,
    generator: generator.name,
    node: instance.node,
    id: randomUUID(),
    generatedAt: (context.now ?? (() => new Date()))().toISOString(),
    definition: definitionHash(generator),
    inputs: Object.fromEntries(instance.inputs.map((input) => [input.generator, manifests.get(instanceKey(input))!.id])),
    recipients: hasSecrets ? normalizeRecipients(hive.vars.recipients) : [],
    files: Object.fromEntries(files.map((f) => [f.name, { secret: f.secret, sha256: sha256(f.stored) }])),
  };
  await writeInstance(hive.vars.dir, instance, files, manifest);
  return { ok: true, manifest };
}

/** The dependencies' files, secret ones decrypted in memory (they reach the command only inside its private directory). */
async function readInputs(hive: GenerateContext["hive"], inputs: readonly VarInstance[], getIdentity: () => Promise<AgeIdentity>): Promise<GeneratorInputFiles[]> {
  const read: GeneratorInputFiles[] = [];
  for (const input of inputs) {
    const generator = hive.vars.generators.find((g) => g.name === input.generator)!;
    const files = new Map<string, Uint8Array>();
    read.push({ generator: input.generator, files });
    for (const [name, spec] of Object.entries(generator.files)) {
      const path = join(instanceDir(hive.vars.dir, input), storedFileName(name, spec.secret));
      const stored = await readIfFile(path);
      if (stored === null) throw new Error(`its input ${path} is missing`);
      files.set(name, spec.secret ? await decryptInput(path, stored, getIdentity) : stored);
    }
  }
  return read;
}

async function decryptInput(path: string, stored: Uint8Array, getIdentity: () => Promise<AgeIdentity>): Promise<Uint8Array> {
  const identity = await getIdentity();
  try {
    return await decryptWith(identity, stored);
  } catch (error) {
    throw new Error(`its input ${path} ${(error as Error).message}`);
  }
}

/** Decrypts each secret file and encrypts it again for hive.ts's recipients; the generation id stays. */
async function rekeyInstance(
  context: GenerateContext,
  instance: InstanceStatus,
  manifest: Manifest,
  getIdentity: () => Promise<AgeIdentity>,
  getRecipients: () => ReturnType<typeof parseRecipients>,
): Promise<Manifest> {
  const { hive } = context;
  const generator = hive.vars.generators.find((g) => g.name === instance.generator)!;
  const dir = instanceDir(hive.vars.dir, instance);
  const files: FileToStore[] = [];
  for (const [name, spec] of Object.entries(generator.files)) {
    const path = join(dir, storedFileName(name, spec.secret));
    const stored = (await readIfFile(path))!;
    if (!spec.secret) {
      files.push({ name, secret: false, stored });
      continue;
    }
    const plaintext = await decryptInput(path, stored, getIdentity);
    try {
      files.push({ name, secret: true, stored: await encryptFor(getRecipients(), plaintext) });
    } finally {
      plaintext.fill(0);
    }
  }
  const updated: Manifest = {
    ...manifest,
    recipients: normalizeRecipients(hive.vars.recipients),
    files: Object.fromEntries(files.map((f) => [f.name, { secret: f.secret, sha256: sha256(f.stored) }])),
  };
  await writeInstance(hive.vars.dir, instance, files, updated);
  return updated;
}
