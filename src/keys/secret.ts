// A secret's bytes in memory: kept out of every string, log line, JSON document and inspection.
import { inspect } from "node:util";

const REDACTED = "[secret]";

/**
 * The content of one key. The bytes are reachable only through `bytes()`, which the upload
 * stream calls; `String()`, `JSON.stringify`, `console.log` and error formatting see `[secret]`.
 */
export class Secret {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** The raw bytes, for the upload stream only. */
  bytes(): Buffer {
    return this.#bytes;
  }

  /** Overwrite the bytes with zeros once they are no longer needed. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
