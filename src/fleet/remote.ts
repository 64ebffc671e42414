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

export interface NodeError {
  /** A stable code: the SSH error's (E_SSH_CONNECT, E_SSH_AUTH, E_HOSTKEY_*), or E_TIMEOUT, E_SIGNAL, E_INTERRUPTED, E_PROBE. */
  code: string;
  message: string;
}

/** A failure as `{ code, message }` for reports and JSON. */
export function describeNodeError(error: unknown): NodeError {
  if (error instanceof SshError) return { code: error.code, message: error.message };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "E_NODE", message: error.message };
  }
  return { code: "E_NODE", message: String(error) };
}

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
