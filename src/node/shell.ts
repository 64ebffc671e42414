// How hive runs shell scripts on a node: the small interface the node-side modules (facts,
// activation, lock, keys, checks) are written against, so none of them depends on SSH or on Host.

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface NodeShell {
  /** Run a shell script as the target user (no privilege escalation). */
  run(script: string, options?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Run a shell script on the node as root (through privilegeEscalationCommand when needed). */
  runAsRoot(script: string, options?: { stdin?: string | NodeJS.ReadableStream; timeoutMs?: number; onLine?: (line: string) => void }): Promise<CommandResult>;
  /** The same as runAsRoot over a connection of its own, opened for this call: proves the node is reachable now. */
  runAsRootOnNewConnection(script: string, options?: { timeoutMs?: number }): Promise<CommandResult>;
}
