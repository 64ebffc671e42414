// Writes `nix-store --export` streams in-process: the NAR of each store path read straight from
// /nix/store, framed as Nix's export format and checked against the hash and size the store
// registered, exactly as `nix-store --export` checks them. A deploy pushes each node's closure
// without starting a Nix process per node (each costs tens of milliseconds of CPU, and forking
// from hive's own large process stalls its event loop).
//
// Format (Nix's export-import.cc and archive.cc; unchanged from Nix 2.0 to current Nix):
//   per path: u64 1, NAR, u64 0x4558494e ("NIXE"), path, references (count, then each), deriver
//             ("" when none), u64 0 (no legacy signature)
//   then:     u64 0
//   NAR:      str "nix-archive-1", node; node is "(" "type" ... ")" with "regular" [+ "executable" ""]
//             "contents" DATA, "symlink" "target" T, or "directory" then ("entry" "(" "name" N "node"
//             NODE ")") per entry in byte order of the names
//   str:      Nix's wire encoding (wire.ts): u64 length, the bytes, zero padding to a multiple of 8
import { HiveError } from "../errors.js";
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from "node:fs";
import { padding, u64 } from "./wire.js";

/** What the local store registered for a path: the export checks the NAR against it. */
export interface StorePathInfo {
  path: string;
  /** SHA-256 of the path's NAR, as 64 hex digits. */
  narHash: string;
  /** Length of the path's NAR in bytes; 0 when the store does not know it (old registrations). */
  narSize: number;
  deriver: string | null;
  references: string[];
}

/** A store path could not be read, or did not match its registration, while it was exported. */
export class ExportError extends HiveError {
  constructor(message: string) {
    super("E_EXPORT", message);
  }
}

const EXPORT_MAGIC = 0x4558494e;
/** Data is handed on in chunks of about this size: large enough to keep per-chunk overhead low. */
const CHUNK = 256 * 1024;

/**
 * The export of `paths`, in the order given (dependencies before what refers to them, as
 * `nix-store --import` registers them one by one). Fails with an ExportError, the trailer of the
 * path at fault withheld so the importer registers nothing of it, when a NAR does not match its
 * registration or a file cannot be read.
 */
export async function* exportChunks(paths: readonly StorePathInfo[]): AsyncGenerator<Buffer> {
  for (const info of paths) {
    yield u64(1);
    const hash = createHash("sha256");
    let size = 0;
    try {
      for (const chunk of narChunks(info.path)) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    } catch (error) {
      if (error instanceof ExportError) throw error;
      throw new ExportError(`could not read ${info.path} from the local store: ${(error as Error).message}`);
    }
    const digest = hash.digest("hex");
    if (digest !== info.narHash.toLowerCase() || (info.narSize > 0 && size !== info.narSize)) {
      throw new ExportError(
        `the contents of ${info.path} no longer match what the store registered (NAR sha256 ${digest}, ${size} bytes; registered ${info.narHash}, ${info.narSize} bytes); run \`nix-store --verify --check-contents --repair\` here`,
      );
    }
    const trailer = new Writer(512);
    trailer.u64(EXPORT_MAGIC);
    trailer.str(info.path);
    const references = [...info.references].sort();
    trailer.u64(references.length);
    for (const reference of references) trailer.str(reference);
    trailer.str(info.deriver ?? "");
    trailer.u64(0);
    yield trailer.take();
  }
  yield u64(0);
}

/** The NAR serialisation of a file tree, as `nix-store --dump` writes it. */
export function* narChunks(path: string): Generator<Buffer> {
  const out = new Writer();
  out.str("nix-archive-1");
  yield* dumpNode(Buffer.from(path), out);
  const rest = out.take();
  if (rest.length > 0) yield rest;
}

function* dumpNode(path: Buffer, out: Writer): Generator<Buffer> {
  const st = lstatSync(path, { bigint: false });
  out.str("(");
  if (st.isFile()) {
    out.str("type").str("regular");
    if ((st.mode & 0o100) !== 0) out.str("executable").str("");
    out.str("contents").u64(st.size);
    yield* dumpContents(path, st.size, out);
    out.pad(st.size);
  } else if (st.isDirectory()) {
    out.str("type").str("directory");
    const names = readdirSync(path, { encoding: "buffer" }).sort(Buffer.compare);
    for (const name of names) {
      out.str("entry").str("(").str("name").bytes(name).str("node");
      yield* dumpNode(Buffer.concat([path, SLASH, name]), out);
      out.str(")");
      if (out.length >= CHUNK) yield out.take();
    }
  } else if (st.isSymbolicLink()) {
    out.str("type").str("symlink").str("target").bytes(readlinkSync(path, { encoding: "buffer" }));
  } else {
    throw new ExportError(`${path.toString()} has a file type a Nix archive cannot hold (not a file, directory or symlink)`);
  }
  out.str(")");
  if (out.length >= CHUNK) yield out.take();
}

function* dumpContents(path: Buffer, size: number, out: Writer): Generator<Buffer> {
  const fd = openSync(path, "r");
  try {
    let left = size;
    while (left > 0) {
      // Small files join the pending buffer; large ones go out in chunks of their own.
      const room = out.length < CHUNK ? CHUNK - out.length : 0;
      if (room === 0) {
        yield out.take();
        continue;
      }
      const want = Math.min(left, room);
      const read = out.readFrom(fd, want);
      if (read === 0) throw new ExportError(`${path.toString()} became shorter while it was read`);
      left -= read;
    }
    // A file that grew since lstat would make a NAR that is not the registered one: the hash check catches it.
  } finally {
    closeSync(fd);
  }
}

const SLASH = Buffer.from("/");
const ZEROS = Buffer.alloc(8);

/** Accumulates NAR bytes into buffers of about CHUNK bytes. */
class Writer {
  private parts: Buffer[] = [];
  private current: Buffer;
  private used = 0;
  length = 0;

  constructor(private readonly initial = CHUNK) {
    this.current = Buffer.allocUnsafe(initial);
  }

  u64(value: number): this {
    this.room(8);
    this.current.writeUInt32LE(value % 0x1_0000_0000, this.used);
    this.current.writeUInt32LE(Math.floor(value / 0x1_0000_0000), this.used + 4);
    this.used += 8;
    this.length += 8;
    return this;
  }

  str(value: string): this {
    return this.bytes(TOKENS.get(value) ?? Buffer.from(value, "utf8"));
  }

  bytes(value: Buffer): this {
    this.u64(value.length);
    this.push(value);
    return this.pad(value.length);
  }

  pad(length: number): this {
    const n = padding(length);
    return n === 0 ? this : this.push(ZEROS.subarray(0, n));
  }

  /** Reads up to `max` bytes of `fd` straight into the pending buffer. */
  readFrom(fd: number, max: number): number {
    this.room(max);
    const read = readSync(fd, this.current, this.used, max, null);
    this.used += read;
    this.length += read;
    return read;
  }

  take(): Buffer {
    if (this.used > 0) this.parts.push(this.current.subarray(0, this.used));
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    // The buffer handed out is the consumer's now; writing goes on in a fresh one.
    this.current = Buffer.allocUnsafe(this.initial);
    this.used = 0;
    this.parts = [];
    this.length = 0;
    return all;
  }

  private push(b: Buffer): this {
    this.room(b.length);
    b.copy(this.current, this.used);
    this.used += b.length;
    this.length += b.length;
    return this;
  }

  /** Makes room for `n` more bytes: a full buffer moves to parts and a fresh one begins. */
  private room(n: number): void {
    if (this.current.length - this.used >= n) return;
    if (this.used > 0) this.parts.push(this.current.subarray(0, this.used));
    this.current = Buffer.allocUnsafe(Math.max(this.initial, n));
    this.used = 0;
  }
}

/** The NAR's fixed words, encoded once. */
const TOKENS = new Map(["nix-archive-1", "(", ")", "type", "regular", "executable", "", "contents", "directory", "entry", "name", "node", "symlink", "target"].map((t) => [t, Buffer.from(t)]));
