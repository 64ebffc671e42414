// Backpressure from hive's own stdout and stderr to the nodes' commands: closed while a slow
// reader (`hive exec -- yes | sleep 25`) leaves more queued than the pipe took.
import type { OutputValve } from "../ssh/connection.js";

/** What the valve needs of a stream (process.stdout and process.stderr are such). */
interface Writable {
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  once(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

export function createStreamValve(streams: readonly Writable[]): OutputValve {
  // One wait shared by every command held back, not a listener each.
  let waiting: Promise<void> | null = null;
  const blocked = () => streams.filter((s) => s.writableNeedDrain && !s.destroyed);
  const waitFor = (stream: Writable) =>
    new Promise<void>((resolve) => {
      // A reader that went away (EPIPE) will never drain: its output is dropped, so nothing to wait for.
      const done = () => {
        for (const event of ["drain", "close", "error"]) stream.off(event, done);
        resolve();
      };
      for (const event of ["drain", "close", "error"]) stream.once(event, done);
    });
  return {
    get open() {
      return blocked().length === 0;
    },
    whenOpen() {
      waiting ??= (async () => {
        for (let streamsLeft = blocked(); streamsLeft.length > 0; streamsLeft = blocked()) await Promise.all(streamsLeft.map(waitFor));
        waiting = null;
      })();
      return waiting;
    },
  };
}
