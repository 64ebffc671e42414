// The client side of `nix-store --serve --write`, the protocol `nix copy --to ssh://` speaks: one
// Nix process on the node answers which paths it has (after substituting what it can) and imports
// the rest. Only two commands are used, both unchanged from Nix 2.0 to current Nix:
//   handshake:        client u64 SERVE_MAGIC_1, u64 version; server u64 SERVE_MAGIC_2, u64 version
//   QueryValidPaths:  u64 1, u64 lock, u64 substitute, paths -> paths (the valid ones)
//   ImportPaths:      u64 4, an export stream (see export.ts) -> u64 1
// Values travel in Nix's wire encoding (wire.ts); a set of paths is a count and that many strings.

import { HiveError } from "../errors.js";
import { exportChunks, type StorePathInfo } from "./export.js";
import { encodeStrings, padding, u64 } from "./wire.js";

export const SERVE_MAGIC_1 = 0x390c9deb;
export const SERVE_MAGIC_2 = 0x5452eecb;
/** 2.5: the oldest version current Nix's client accepts, and plenty for these two commands. */
export const SERVE_CLIENT_VERSION = 0x205;
export const CMD_QUERY_VALID_PATHS = 1;
export const CMD_IMPORT_PATHS = 4;

/** The node's `nix-store --serve` said something the protocol does not allow, or ended early. */
export class ServeProtocolError extends HiveError {
  constructor(message: string) {
    super("E_PUSH", message);
  }
}

/** Bytes from the server as they arrive, read as protocol values; reads wait for their bytes. */
export class ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private ended: Error | undefined;
  private waiting: (() => void) | undefined;

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.wake();
  }

  /** No more bytes will come; pending and later reads fail with `reason`. */
  end(reason: Error): void {
    this.ended ??= reason;
    this.wake();
  }

  async u64(): Promise<number> {
    const b = await this.take(8);
    const high = b.readUInt32LE(4);
    if (high >= 0x20_0000) throw new ServeProtocolError("nix-store --serve sent a number too large to be one");
    return high * 0x1_0000_0000 + b.readUInt32LE(0);
  }

  async string(): Promise<string> {
    const length = await this.u64();
    if (length > 64 * 1024 * 1024) throw new ServeProtocolError(`nix-store --serve sent a string of ${length} bytes`);
    const bytes = await this.take(length + padding(length));
    return bytes.subarray(0, length).toString("utf8");
  }

  async strings(): Promise<string[]> {
    const count = await this.u64();
    const values: string[] = [];
    for (let i = 0; i < count; i++) values.push(await this.string());
    return values;
  }

  private async take(n: number): Promise<Buffer> {
    while (this.buffer.length < n) {
      if (this.ended !== undefined) throw this.ended;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    const taken = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return taken;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** A running `nix-store --serve --write`: bytes to it, replies from it. */
export interface ServeChannel {
  /** Resolves once the bytes are taken (backpressure). */
  send(chunk: Buffer): Promise<void>;
  replies: ReplyReader;
}

/**
 * Brings `closure` (dependencies first) into the server's store: asks which paths it has (letting
 * it substitute first when `substitute`), then imports the export of the rest. Returns how many
 * paths were sent. An export that fails stops before the trailer of the path at fault, so the
 * server registers nothing of that path; the error (an ExportError) is thrown as is.
 */
export async function pushClosure(
  channel: ServeChannel,
  closure: readonly StorePathInfo[],
  options: { substitute: boolean; onCopy?: (missing: number, total: number) => void },
): Promise<number> {
  const { send, replies } = channel;
  await send(Buffer.concat([u64(SERVE_MAGIC_1), u64(SERVE_CLIENT_VERSION)]));
  if ((await replies.u64()) !== SERVE_MAGIC_2) throw new ServeProtocolError("nix-store --serve answered with something else than its greeting");
  await replies.u64(); // the server's version: both commands are the same in all of them
  // lock: the server keeps the paths it has from garbage collection while the copy lasts.
  await send(Buffer.concat([u64(CMD_QUERY_VALID_PATHS), u64(1), u64(options.substitute ? 1 : 0), encodeStrings(closure.map((p) => p.path))]));
  const valid = new Set(await replies.strings());
  const missing = closure.filter((p) => !valid.has(p.path));
  if (missing.length === 0) return 0;
  options.onCopy?.(missing.length, closure.length);
  await send(u64(CMD_IMPORT_PATHS));
  for await (const chunk of exportChunks(missing)) await send(chunk);
  if ((await replies.u64()) !== 1) throw new ServeProtocolError("nix-store --serve did not confirm the import");
  return missing.length;
}

/**
 * What to add to a failed push's message when the node's store ran out of space: Nix may leave
 * a path it was writing behind, which only a garbage collection on the node clears.
 */
export function describeStoreFull(stderr: string): string {
  if (!/No space left on device/i.test(stderr)) return "";
  return "; the node's /nix is full: free space there (e.g. nix-collect-garbage), and run `nix-store --gc` on the node, since a path copied in part may be left behind";
}
