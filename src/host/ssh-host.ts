// A node reached over SSH: commands, closures and keys over one pooled ssh2 connection.
import { PassThrough, Readable } from "node:stream";
import type { Node } from "../config/normalize.js";
import { parseNodeState, stateProbeScript, type NodeState } from "../activation/scripts.js";
import { trimNixError } from "../nix/eval.js";
import { exportChunks, type StorePathInfo } from "../nix/export.js";
import type { SshPool } from "../ssh/pool.js";
import { quoteCommand } from "../ssh/quote.js";
import type { SshTarget } from "../ssh/target.js";
import { type CommandResult, type Host, NodeOperationError } from "./host.js";
import { missingPathsQuery } from "./missing-paths.js";

export class SshHost implements Host {
  constructor(
    readonly node: Node,
    private readonly target: SshTarget,
    private readonly pool: SshPool,
  ) {}

  async connect(): Promise<void> {
    await this.pool.connect(this.target);
  }

  /** The prefix that makes a command run as root on this node. */
  private get escalation(): readonly string[] {
    return this.target.user === "root" ? [] : this.node.privilegeEscalationCommand;
  }

  async runAsRoot(
    script: string,
    options: { stdin?: string | NodeJS.ReadableStream; timeoutMs?: number; onLine?: (line: string) => void } = {},
  ): Promise<CommandResult> {
    const connection = await this.pool.connect(this.target);
    const lines = lineSplitter(options.onLine);
    if (options.stdin === undefined) {
      const result = await connection.exec(quoteCommand([...this.escalation, "sh", "-c", script]), {
        stdin: options.stdin,
        timeoutMs: options.timeoutMs,
        onStdout: lines.stdout,
        onStderr: lines.stderr,
      });
      lines.flush();
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
    }
    // Input is sent only once the command says it runs: through sudo, input that arrives (and ends)
    // before sudo relays it can be lost (seen with Debian's `Defaults use_pty`).
    const gate = new PassThrough();
    const input = options.stdin;
    let opened = false;
    let head = "";
    const result = await connection.exec(quoteCommand([...this.escalation, "sh", "-c", `echo ${STDIN_READY}; ${script}`]), {
      stdin: gate,
      timeoutMs: options.timeoutMs,
      onStdout: (chunk) => {
        if (opened) return lines.stdout(chunk);
        head += chunk.toString("utf8");
        const end = head.indexOf("\n");
        if (end === -1) return;
        opened = true;
        if (typeof input === "string") gate.end(input);
        else input.pipe(gate);
        const rest = head.slice(end + 1);
        if (rest !== "") lines.stdout(Buffer.from(rest));
      },
      onStderr: lines.stderr,
    });
    if (!opened) gate.end();
    lines.flush();
    const stdout = result.stdout.startsWith(`${STDIN_READY}\n`) ? result.stdout.slice(STDIN_READY.length + 1) : result.stdout;
    return { exitCode: result.exitCode, stdout, stderr: result.stderr, timedOut: result.timedOut };
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

  /**
   * Copy a closure over the node's ssh2 connection: ask the node which paths it lacks (letting it
   * substitute them first), then stream hive's own export of just those into `nix-store --import`.
   * No OpenSSH and no Nix process here, no second handshake, and the host key checked once, by the engine.
   */
  async copyClosure(closure: readonly StorePathInfo[], options: { substitute: boolean; onLine?: (line: string) => void }): Promise<void> {
    const query = missingPathsQuery(closure.map((p) => p.path), options.substitute);
    const asked = await this.runAsRoot(query.script, { stdin: query.input, timeoutMs: 600_000 });
    if (asked.exitCode !== 0) {
      throw new NodeOperationError(`could not ask ${this.target.host} which paths it lacks: ${asked.stderr.trim() || `exit ${asked.exitCode}`}`, "E_PUSH");
    }
    const lacking = query.lacking(asked.stdout);
    if (lacking.size === 0) return;
    const missing = closure.filter((p) => lacking.has(p.path));
    options.onLine?.(`copying ${missing.length} of ${closure.length} paths to ${this.target.host}`);
    // An export that fails ends the input early: the node registers no path it did not get whole.
    let exportError: Error | undefined;
    const stream = Readable.from(
      (async function* () {
        try {
          yield* exportChunks(missing);
        } catch (error) {
          exportError = error as Error;
        }
      })(),
    );
    const imported = await this.runAsRoot("nix-store --import > /dev/null", { stdin: stream, onLine: options.onLine });
    if (exportError !== undefined) {
      throw new NodeOperationError(`could not send the closure: ${exportError.message}`, "E_PUSH");
    }
    if (imported.exitCode !== 0) {
      throw new NodeOperationError(`importing into ${this.target.host}'s store failed: ${trimNixError(imported.stderr, 5)}`, "E_PUSH", tail(imported.stderr));
    }
  }

  async buildOnNode(drvPath: string, onLine?: (line: string) => void): Promise<void> {
    const result = await this.runAsRoot(quoteCommand(["nix-store", "--realise", drvPath]), { onLine });
    if (result.exitCode !== 0) {
      throw new NodeOperationError(`build on the node failed: ${trimNixError(result.stderr, 5)}`, "E_BUILD", tail(result.stderr));
    }
  }
}

/** First line a command run through sudo prints, once it runs and can take its input. */
const STDIN_READY = "hive-stdin-ready";

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
