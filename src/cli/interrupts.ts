// Ctrl-C and SIGTERM from the moment hive starts: before a run has begun (loading hive.ts,
// planning) they end hive at once with 130; once a run listens, they are its to handle.
type Listener = (count: number) => void;

const listeners = new Set<Listener>();
let count = 0;
let installed = false;

export function installInterruptHandlers(): void {
  if (installed) return;
  installed = true;
  const onSignal = () => {
    count += 1;
    if (listeners.size === 0) process.exit(130); // nothing started yet: nothing to wait for
    for (const listener of [...listeners]) listener(count);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** Hear every interrupt from now on (counted from 1 for this listener); returns the way to stop. */
export function onInterrupt(listener: Listener): () => void {
  const base = count;
  const own: Listener = (n) => listener(n - base);
  listeners.add(own);
  return () => listeners.delete(own);
}
