// A node reached over SSH: commands over one pooled ssh2 connection, closures with `nix copy`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Node } from "../config/normalize.js";
import { parseNodeState, stateProbeScript, type NodeState } from "../activation/scripts.js";
import { nixArgs, sshStoreUrl } from "../nix/nix-cli.js";
import { trimNixError } from "../nix/eval.js";
import type { ProcessRunner } from "../nix/runner.js";
import type { SshPool } from "../ssh/pool.js";
import { quoteCommand } from "../ssh/quote.js";
import type { SshTarget } from "../ssh/target.js";
import { type CommandResult, type Host, NodeOperationError } from "./host.js";
import { nixSshOpts, openSshConfig } from "./openssh.js";

export class SshHost implements Host {
  constructor(
    readonly node: Node,
    private readonly target: SshTarget,
    private readonly pool: SshPool,
    private readonly runner: ProcessRunner,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  /** The prefix that makes a command run as root on this node. */
  private get escalation(): readonly string[] {
    return this.target.user === "root" ? [] : this.node.privilegeEscalationCommand;
  }

  async runAsRoot(
    script: string,
    options: { stdin?: string | NodeJS.ReadableStream; timeoutMs?: number; onLine?: (line: string) => void } = {},
  ): Promise<CommandResult> {
    const connection = await this.pool.connect(this.target);
    const command = quoteCommand([...this.escalation, "sh", "-c", script]);
    const lines = lineSplitter(options.onLine);
    const result = await connection.exec(command, {
      stdin: options.stdin,
      timeoutMs: options.timeoutMs,
      onStdout: lines.stdout,
      onStderr: lines.stderr,
    });
    lines.flush();
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
  }

  async runAsRootOnNewConnection(script: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const connection = await this.pool.connectFresh(this.target);
    try {
      const result = await connection.exec(quoteCommand([...this.escalation, "sh", "-c", script]), { timeoutMs: options.timeoutMs });
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
    } finally {
      connection.close();
    }
  }

  async run(script: string, options: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    const connection = await this.pool.connect(this.target);
    const result = await connection.exec(quoteCommand(["sh", "-c", script]), { stdin: options.stdin, timeoutMs: options.timeoutMs });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
  }

  async probe(): Promise<NodeState> {
    const result = await this.runAsRoot(stateProbeScript(this.node.profile), { timeoutMs: 30_000 });
    if (result.exitCode !== 0) {
      throw new NodeOperationError(`could not read the node's state: ${result.stderr.trim() || `exit ${result.exitCode}`}`, "E_PROBE");
    }
    return parseNodeState(result.stdout);
  }

  async copyClosure(path: string, options: { substitute: boolean; derivation?: boolean; onLine?: (line: string) => void }): Promise<void> {
    const args = nixArgs("copy", "--to", sshStoreUrl(this.target.user, this.target.host, this.escalation));
    if (options.substitute) args.push("--substitute-on-destination");
    // A .drv path alone would mean "its outputs": copy the derivation closure itself.
    if (options.derivation) args.push("--derivation");
    args.push(path);
    const dir = await mkdtemp(join(tmpdir(), "hive-ssh-"));
    try {
      const configFile = join(dir, "ssh_config");
      await writeFile(configFile, openSshConfig(this.target), { mode: 0o600 });
      const result = await this.runner.run("nix", args, {
        env: { ...this.env, NIX_SSHOPTS: nixSshOpts(configFile, this.node) },
        onStderrLine: options.onLine,
      });
      if (result.exitCode !== 0) {
        throw new NodeOperationError(`nix copy to ${this.target.host} failed: ${trimNixError(result.stderr, 5)}`, "E_PUSH", tail(result.stderr));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async buildOnNode(drvPath: string, onLine?: (line: string) => void): Promise<void> {
    const result = await this.runAsRoot(quoteCommand(["nix-store", "--realise", drvPath]), { onLine });
    if (result.exitCode !== 0) {
      throw new NodeOperationError(`build on the node failed: ${trimNixError(result.stderr, 5)}`, "E_BUILD", tail(result.stderr));
    }
  }
}

function tail(text: string, lines = 20): string[] {
  return text.split("\n").filter((l) => l.trim() !== "").slice(-lines);
}

/** Turns chunks from both streams into whole lines for one callback. */
function lineSplitter(onLine: ((line: string) => void) | undefined) {
  const pending = { stdout: "", stderr: "" };
  const feed = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    if (onLine === undefined) return;
    pending[stream] += chunk.toString("utf8");
    const lines = pending[stream].split("\n");
    pending[stream] = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
  return {
    stdout: feed("stdout"),
    stderr: feed("stderr"),
    flush: () => {
      for (const stream of ["stdout", "stderr"] as const) {
        if (pending[stream] !== "" && onLine) onLine(pending[stream]);
        pending[stream] = "";
      }
    },
  };
}
