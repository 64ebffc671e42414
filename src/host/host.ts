// The one interface deployment is composed from: what hive can do to a node.
import type { Node } from "../config/normalize.js";
import type { NodeState } from "../activation/scripts.js";
import type { Goal } from "../plan/goal.js";
import type { StorePathInfo } from "../nix/export.js";

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface DeploymentRecord {
  system: string;
  goal: Goal | "rollback";
  deployedAt: string;
  deployedBy: string;
  hiveFile: string;
  flake: string;
  flakeRevision: string | null;
  flakeDirty: boolean | null;
  hiveVersion: string;
}

export interface Host {
  readonly node: Node;
  /** Open the node's connection ahead of its first use (which then finds it ready). */
  connect(): Promise<void>;
  /** What the node runs, what its profile names, and its generation: asked of the node, never cached. */
  probe(): Promise<NodeState>;
  /** Copy a closure (dependencies first) to the node; of a .drv, the derivation closure, for building there. */
  copyClosure(closure: readonly StorePathInfo[], options: { substitute: boolean; onLine?: (line: string) => void }): Promise<void>;
  /** Realise a derivation on the node. */
  buildOnNode(drvPath: string, onLine?: (line: string) => void): Promise<void>;
  /** The same over a connection of its own, opened for this call: proves the node is reachable now. */
  runAsRootOnNewConnection(script: string, options?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Run a shell script as the target user (no privilege escalation). */
  run(script: string, options?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Run a shell script on the node as root (through privilegeEscalationCommand when needed). */
  runAsRoot(script: string, options?: { stdin?: string | NodeJS.ReadableStream; timeoutMs?: number; onLine?: (line: string) => void }): Promise<CommandResult>;
}
