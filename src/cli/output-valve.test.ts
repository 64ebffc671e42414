import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createStreamValve } from "./output-valve.js";

/** A stream whose reader lags until it drains. */
function stream() {
  return Object.assign(new EventEmitter(), { writableNeedDrain: false, destroyed: false });
}

describe("createStreamValve", () => {
  it("is closed while any stream waits to drain, opens when all drained, and once for every waiter", async () => {
    const out = stream();
    const err = stream();
    const valve = createStreamValve([out, err]);
    expect(valve.open).toBe(true);
    out.writableNeedDrain = true;
    err.writableNeedDrain = true;
    expect(valve.open).toBe(false);
    let opened = 0;
    const waits = [valve.whenOpen(), valve.whenOpen()].map((p) => p.then(() => (opened += 1)));
    expect(out.listenerCount("drain")).toBe(1);
    out.writableNeedDrain = false;
    out.emit("drain");
    await new Promise((r) => setImmediate(r));
    expect(opened).toBe(0);
    // A reader that went away never drains: its close opens the valve too.
    err.destroyed = true;
    err.emit("close");
    await Promise.all(waits);
    expect(opened).toBe(2);
    expect(out.listenerCount("drain") + err.listenerCount("close")).toBe(0);
  });
});
