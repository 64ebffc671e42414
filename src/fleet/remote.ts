// What the fleet commands share about reaching nodes: the connection seam, root escalation, failure kinds.
import type { Node } from "../config/normalize.js";
import type { SshConnection } from "../ssh/connection.js";
import { SshDisconnectedError, SshError } from "../ssh/errors.js";
import { quoteCommand } from "../ssh/quote.js";

/** Opens (or reuses) the node's SSH connection; the SSH pool in the CLI, a fake in tests. */
export type ConnectNode = (node: Node) => Promise<SshConnection>;

/** An argv as one command line for the node's login shell, through privilegeEscalationCommand when `asRoot` and not root already. */
export function remoteCommand(node: Node, argv: readonly string[], asRoot: boolean): string {
  const prefix = asRoot && node.targetUser !== "root" ? node.privilegeEscalationCommand : [];
  return quoteCommand([...prefix, ...argv]);
}

export type { ErrorSummary as NodeError } from "../errors.js";
export { summarizeError as describeNodeError } from "../errors.js";

/** Whether a failure to connect means the node could not be reached (as opposed to a lost connection). */
export function isConnectFailure(error: unknown): boolean {
  return error instanceof SshError && !(error instanceof SshDisconnectedError);
}

/** Resolves to "aborted" when the signal fires; for racing steps that take no signal (connecting). */
export function whenAborted(signal: AbortSignal | undefined): { promise: Promise<"aborted">; dispose: () => void } {
  if (signal === undefined) return { promise: new Promise<never>(() => {}), dispose: () => {} };
  let onAbort: () => void = () => {};
  const promise = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}
