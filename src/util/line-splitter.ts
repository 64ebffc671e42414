// Splits output arriving in chunks into lines, in linear time and bounded memory: a line longer
// than the limit is passed on cut short, with a marker, as soon as it reaches the limit.
import { StringDecoder } from "node:string_decoder";

/** Characters of one line kept and shown; the rest of a longer line is dropped. */
export const MAX_LINE_CHARS = 64 * 1024;

/** Ends a line that was cut: what follows up to its newline was dropped. */
export function cutMarker(maxLine: number): string {
  return ` [hive: line cut after ${maxLine} characters]`;
}

export class LineSplitter {
  /** The unfinished line, in pieces (joining at every chunk would be quadratic). */
  private parts: string[] = [];
  private length = 0;
  /** The current line went past the limit: drop the rest of it, up to its newline. */
  private dropping = false;
  private readonly decoder = new StringDecoder("utf8");

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine = MAX_LINE_CHARS,
  ) {}

  /** Bytes (decoded as UTF-8, a character split across chunks included) or text. */
  push(chunk: Buffer | string): void {
    const text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const newline = text.indexOf("\n", start);
      this.take(text, start, newline === -1 ? text.length : newline);
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  }

  /** The last line, if it did not end with a newline. */
  end(): void {
    const rest = this.decoder.end();
    if (rest !== "") this.take(rest, 0, rest.length);
    if (!this.dropping && this.length > 0) this.onLine(this.parts.join(""));
    this.reset();
  }

  private take(text: string, start: number, end: number): void {
    if (this.dropping || start === end) return;
    const room = this.maxLine - this.length;
    if (end - start <= room) {
      this.parts.push(text.slice(start, end));
      this.length += end - start;
      return;
    }
    // Shown now: the rest of this line may be far away, or never come.
    this.parts.push(text.slice(start, start + room));
    this.onLine(this.parts.join("") + cutMarker(this.maxLine));
    this.reset();
    this.dropping = true;
  }

  private endLine(): void {
    if (!this.dropping) this.onLine(this.parts.join(""));
    this.reset();
  }

  private reset(): void {
    this.parts = [];
    this.length = 0;
    this.dropping = false;
  }
}
