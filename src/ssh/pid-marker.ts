// The remote shell's pid, announced on stderr before a stoppable command runs, so hive can kill it.

/**
 * Prefix for a command that may have to be stopped: the login shell prints its pid, which is also
 * the session's process group (sshd starts each session with setsid), on stderr first. sshd
 * refuses "signal" requests for root logins, so killing that group is how a stop reaches them.
 */
export const PID_MARKER_PREFIX = `printf '\\036hive-pid:%s\\n' "$$" >&2\n`;

const MARKER = Buffer.from("\x1ehive-pid:");

/** Stop looking for the pid line after this much stderr. */
const SCAN_LIMIT = 64 * 1024;

/**
 * Takes stderr chunks and removes the pid line, passing everything else on. The line is looked
 * for, not assumed first: a shell rc file may print before it (bash sources ~/.bashrc under sshd).
 */
export class PidMarkerFilter {
  pid: number | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private scanned = 0;
  private done = false;

  /** The bytes of stderr so far that belong to the command, in order. */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk;
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    this.scanned += chunk.length;
    const at = data.indexOf(MARKER);
    if (at >= 0) {
      const newline = data.indexOf(0x0a, at + MARKER.length);
      if (newline < 0) {
        if (data.length - at > MARKER.length + 12) return this.giveUp(data);
        this.pending = data.subarray(at);
        return data.subarray(0, at);
      }
      const digits = data.subarray(at + MARKER.length, newline).toString("latin1");
      if (!/^[1-9][0-9]{0,9}$/.test(digits)) return this.giveUp(data);
      this.pid = Number.parseInt(digits, 10);
      this.done = true;
      return Buffer.concat([data.subarray(0, at), data.subarray(newline + 1)]);
    }
    if (this.scanned > SCAN_LIMIT) return this.giveUp(data);
    // Hold back a tail that may be the start of the marker.
    const start = data.lastIndexOf(MARKER[0] ?? 0x1e);
    if (start >= 0 && data.length - start < MARKER.length && MARKER.subarray(0, data.length - start).equals(data.subarray(start))) {
      this.pending = data.subarray(start);
      return data.subarray(0, start);
    }
    return data;
  }

  /** Bytes held back while deciding (the stream ended mid-marker). */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    this.done = true;
    return rest;
  }

  private giveUp(data: Buffer): Buffer {
    this.done = true;
    return data;
  }
}
