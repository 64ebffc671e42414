// The only door to a node: what hive can do to one. Every command reaches nodes through a Host.
import type { Node } from "../config/normalize.js";
import type { Activation, ActivationHooks } from "../activation/run-activation.js";
import type { SupervisorOptions } from "../activation/supervisor.js";
import type { LockOwner } from "../activation/lock.js";
import type { StorePathInfo } from "../nix/export.js";
import type { KeyInspection } from "../keys/index.js";
import type { NodeEvent } from "../node/events.js";
import type { FactsDetail, NodeFacts, NodeState } from "../node/facts.js";
import type { DeploymentRecord } from "../node/record.js";
import type { NodeShell } from "../node/shell.js";
import type { ExecOptions, ExecResult } from "../ssh/connection.js";

export type { CommandResult, NodeShell } from "../node/shell.js";
export type { DeploymentRecord } from "../node/record.js";

/** The node lock, held until released, with what the node ran when it was taken. */
export interface NodeLock {
  /** A previous holder whose lock was found stale (it died without releasing). */
  stale: string | null;
  /** The node's state, read once the lock was held. */
  state: NodeState;
  /** hive's record of the keys it placed, when asked for (`withKeysManifest`). */
  keysManifest: string | undefined;
  /** Written into the node's lock.json; steps that change the node check it first (lockGuardScript). */
  token: string;
  /** True once the node-side holder ended without being released: another run took the lock over. */
  lost(): boolean;
  release(): Promise<void>;
}

/** The node's keys as `status` reads them (as root): what is there, or why it could not be read. */
export type KeysState = { inspection: KeyInspection; error: null } | { inspection: null; error: string };

/** The facts, and at the `status` level the node's keys (null for a node without keys, or at another level). */
export interface HostFacts extends NodeFacts {
  keys: KeysState | null;
}

export interface LockOptions {
  force: boolean;
  withKeysManifest: boolean;
}

export interface Host extends NodeShell {
  readonly node: Node;
  /** Open the node's connection ahead of its first use; resolves to the handshake's latency. */
  connect(): Promise<{ latencyMs: number }>;
  /**
   * What the node runs, its generations, records and events, and at `status` its resources,
   * services and keys: one round trip, asked of the node, never cached.
   */
  facts(detail?: FactsDetail): Promise<HostFacts>;
  /** Take the node lock (one hive run per node at a time) and read the node's state under it. */
  lock(owner: LockOwner, options: LockOptions): Promise<NodeLock>;
  /** Copy a closure (dependencies first) to the node; of a .drv, the derivation closure, for building there. */
  copyClosure(closure: readonly StorePathInfo[], options: { substitute: boolean; onLine?: (line: string) => void; guard?: string }): Promise<void>;
  /** Realise a derivation on the node. */
  buildOnNode(drvPath: string, onLine?: (line: string) => void): Promise<void>;
  /** Activate a system under the node's own supervisor (dead-man rollback), followed until activation ends. */
  activate(options: Omit<SupervisorOptions, "id">, record: DeploymentRecord, hooks?: ActivationHooks): Promise<Activation>;
  /** Append an event to the node's event log (a failure the supervisor never saw); rejects when it could not be written. */
  recordEvent(event: Omit<NodeEvent, "kind">): Promise<void>;
  /** Run an argv on the node, each argument one word byte for byte; as root through privilegeEscalationCommand when asked. */
  exec(argv: readonly string[], options: ExecOptions & { asRoot: boolean }): Promise<ExecResult>;
  /** Close the node's connection (a command run once needs it no longer). */
  close(): void;
}
