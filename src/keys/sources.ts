// Reads every key of a node on the deployer (text, file, command) into memory, before the node is touched.
import { type FileHandle, open } from "node:fs/promises";
import type { Node } from "../config/normalize.js";
import type { ByteRunner } from "../nix/runner.js";
import { quoteCommand } from "../ssh/quote.js";
import { readVarSecret } from "../vars/secret-source.js";
import { KeyConflictError, KeySourceError } from "./errors.js";
import { type KeyPlacement, keyPlacements, placementConflicts } from "./placement.js";
import { Secret } from "./secret.js";

/** One key ready to upload: where it goes, and its content in memory. */
export interface PreparedKey extends KeyPlacement {
  secret: Secret;
}

/** Every key of one node, read. Call `wipePreparedKeys` once they are uploaded. */
export interface PreparedKeys {
  node: string;
  /** The hive whose record on the node the keys go into (Node.hiveName). */
  hiveName: string;
  /** In hive.ts order. */
  keys: PreparedKey[];
}

export interface PrepareKeysOptions {
  /** Directory `command`s run in; default hive.ts's directory is what callers should pass. */
  cwd?: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

const STDERR_LINES = 10;

/** The largest key hive reads: enough for any certificate bundle or keyring, and a bound on memory per node. */
export const MAX_KEY_BYTES = 16 * 1024 * 1024;
const MAX_KEY_SIZE = "16 MiB";

/**
 * Reads each key's source: `text` as UTF-8, `file` as bytes, `command` run with its stdout as
 * the secret, `var` decrypted from vars/ with the operator's age identity. Sources are read one after the other (a command may prompt through an agent). If
 * any fails, every one read so far is wiped and a KeySourceError lists each failure.
 */
export async function prepareKeys(node: Pick<Node, "name" | "keys" | "hiveName">, runner: ByteRunner, options: PrepareKeysOptions = {}): Promise<PreparedKeys> {
  const placements = keyPlacements(node);
  const conflicts = placementConflicts(placements);
  if (conflicts.length > 0) throw new KeyConflictError(conflicts.join("; "));

  const keys: PreparedKey[] = [];
  const failures: { message: string; log: string[] }[] = [];
  for (const placement of placements) {
    const key = node.keys[placement.name]!;
    try {
      keys.push({ ...placement, secret: await readSource(placement.name, key, runner, options) });
    } catch (error) {
      if (!(error instanceof KeySourceError)) throw error;
      failures.push({ message: error.message, log: [...error.log] });
    }
  }
  if (failures.length > 0) {
    wipePreparedKeys({ node: node.name, hiveName: node.hiveName, keys });
    const [first] = failures;
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more: ${failures.slice(1).map((f) => f.message).join("; ")})` : "";
    throw new KeySourceError(`${first!.message}${more}; nothing was changed on the node`, failures.flatMap((f) => [f.message, ...f.log]));
  }
  return { node: node.name, hiveName: node.hiveName, keys };
}

/** Overwrite every prepared secret with zeros. */
export function wipePreparedKeys(prepared: PreparedKeys): void {
  for (const key of prepared.keys) key.secret.wipe();
}

async function readSource(name: string, key: Node["keys"][string], runner: ByteRunner, options: PrepareKeysOptions): Promise<Secret> {
  if (key.text !== undefined) return new Secret(Buffer.from(key.text, "utf8"));
  if (key.file !== undefined) return new Secret(await readKeyFile(name, key.file));
  if (key.command !== undefined) return new Secret(await runKeyCommand(name, key.command, runner, options));
  if (key.var !== undefined) {
    try {
      return new Secret(await readVarSecret(key.var, { ...process.env, ...options.env }));
    } catch (error) {
      throw new KeySourceError(`key ${name}: ${(error as Error).message}`);
    }
  }
  // The schema guarantees one source; this is a bug if reached.
  throw new Error(`key ${name} has no source`);
}

/** The file's bytes, read through one descriptor and never more than the limit (a device or FIFO may not end). */
async function readKeyFile(name: string, file: string): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, "r");
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1024 * 1024, MAX_KEY_BYTES + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_KEY_BYTES) {
        for (const c of chunks) c.fill(0);
        throw new KeySourceError(`key ${name}: file ${file} is larger than ${MAX_KEY_SIZE}, the most a key may hold`);
      }
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if (error instanceof KeySourceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES" || code === "EPERM"
          ? "is not readable by this user"
          : code === "EISDIR"
            ? "is a directory"
            : `cannot be read (${code ?? (error as Error).message})`;
    throw new KeySourceError(`key ${name}: file ${file} ${why}`);
  } finally {
    await handle?.close();
  }
}

async function runKeyCommand(name: string, argv: readonly string[], runner: ByteRunner, options: PrepareKeysOptions): Promise<Buffer> {
  const [file, ...args] = argv;
  const shown = quoteCommand(argv);
  const result = await runner.runForBytes(file!, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    maxStdoutBytes: MAX_KEY_BYTES,
  });
  if (result.tooLarge !== undefined) {
    result.stdout.fill(0);
    const what = result.tooLarge === "stdout" ? `printed more than ${MAX_KEY_SIZE}, the most a key may hold` : "wrote more than 1 MiB to stderr";
    throw new KeySourceError(`key ${name}: command ${shown} ${what}; it was stopped`);
  }
  if (result.exitCode === 0) return result.stdout;
  // A failed command's output is not the secret, but it is not shown either: only its stderr.
  result.stdout.fill(0);
  const stderr = result.stderr.split("\n").filter((l) => l.trim() !== "").slice(-STDERR_LINES);
  if (result.spawnError !== undefined) throw new KeySourceError(`key ${name}: command ${shown} could not start: ${result.spawnError}`, stderr);
  const last = stderr.at(-1);
  throw new KeySourceError(`key ${name}: command ${shown} exited ${result.exitCode}${last ? `: ${last}` : ""}`, stderr);
}
