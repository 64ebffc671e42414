// How a failure on one node is reported: a stable code, a message, and the last lines of its log.

/** `{ code, message }` for any error thrown while working on a node; codes come from typed errors. */
export function describeNodeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "E_NODE", message: error.message };
  }
  return { code: "E_NODE", message: String(error) };
}

/** The log lines a typed node error carries (e.g. Nix's output), at most `max`. */
export function nodeErrorLog(error: unknown, max = 20): string[] {
  const log = (error as { log?: unknown } | null)?.log;
  return Array.isArray(log) ? (log as string[]).slice(-max) : [];
}
