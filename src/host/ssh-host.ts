// A node reached over SSH: every step on it (facts, lock, closures, activation, keys, commands)
// over one pooled ssh2 connection.
import { PassThrough } from "node:stream";
import type { Node } from "../config/normalize.js";
import { NodeOperationError } from "../errors.js";
import { LOCK_LOST_EXIT, type LockOwner, LockLostError, acquireNodeLock, describeLockLostLine } from "../activation/lock.js";
import { type Activation, runSupervisedActivation } from "../activation/run-activation.js";
import type { SupervisorOptions } from "../activation/supervisor.js";
import { keyInspectionScript, keyManifestScript, parseKeyInspection } from "../keys/index.js";
import { trimNixError } from "../nix/nix-errors.js";
import { ExportError, type StorePathInfo } from "../nix/export.js";
import { ReplyReader, ServeProtocolError, describeStoreFull, pushClosure } from "../nix/serve-protocol.js";
import { type NodeEvent, appendEventScript } from "../node/events.js";
import { type FactsDetail, factsScript, parseNodeFacts, parseNodeState } from "../node/facts.js";
import type { DeploymentRecord } from "../node/record.js";
import type { ExecOptions, ExecResult, SshConnection } from "../ssh/connection.js";
import type { SshPool } from "../ssh/pool.js";
import { quoteCommand } from "../ssh/quote.js";
import { LineSplitter } from "../util/line-splitter.js";
import type { SshTarget } from "../ssh/target.js";
import type { CommandResult, Host, HostFacts, KeysState, LockOptions, NodeLock } from "./host.js";

/** Separates the state from the key manifest in the lock script's output. */
const KEYS_MANIFEST_MARK = "hive-keys-manifest";
/** Separates the facts from the key inspection in the status script's output, and marks its failure. */
const KEYS_MARK = "hive-keys-inspection";
const KEYS_FAILED = "hive-keys-failed";

export class SshHost implements Host {
  private opened: Promise<SshConnection> | undefined;

  constructor(
    readonly node: Node,
    private readonly target: SshTarget,
    private readonly pool: SshPool,
  ) {}

  async connect(): Promise<{ latencyMs: number }> {
    this.opened = this.pool.connect(this.target);
    const connection = await this.opened;
    return { latencyMs: connection.latencyMs };
  }

  close(): void {
    void this.opened?.then((c) => c.close(), () => undefined);
    this.opened = undefined;
  }

  async facts(detail: FactsDetail = "status"): Promise<HostFacts> {
    const services = Object.values(this.node.services);
    const probes = { units: [...new Set(services.map((s) => s.unit))], ports: [...new Set(services.flatMap((s) => (s.port === undefined ? [] : [s.port])))] };
    // Everything the facts read is world-readable on NixOS; only the keys need root (a reboot
    // empties /run/keys, and hive's record of them is root's): that part alone is escalated, in
    // the same round trip, and a refused escalation leaves the rest of the facts intact.
    const withKeys = detail === "status" && Object.keys(this.node.keys).length > 0;
    let script = factsScript(this.node.profile, detail, probes);
    if (withKeys) {
      const keys = keyInspectionScript(this.node);
      const asRoot = this.escalation.length === 0 ? `(\n${keys}\n)` : `${quoteCommand([...this.escalation, "sh", "-c", keys])} < /dev/null`;
      script = `(\n${script}\n)\necho ${KEYS_MARK}\n${asRoot} 2>&1 || echo "${KEYS_FAILED}=$?"\nexit 0`;
    }
    const result = await this.run(script, { timeoutMs: detail === "history" ? 60_000 : 30_000 });
    if (result.exitCode !== 0) {
      const why = result.timedOut ? "timed out" : result.stderr.trim().split("\n").at(-1) || `exit ${result.exitCode}`;
      throw new NodeOperationError(`could not read the node's state: ${why}`, "E_PROBE");
    }
    const mark = withKeys ? result.stdout.indexOf(`\n${KEYS_MARK}\n`) : -1;
    const facts = parseNodeFacts(mark === -1 ? result.stdout : result.stdout.slice(0, mark), this.node.profile);
    return { ...facts, keys: withKeys ? this.readKeys(mark === -1 ? "" : result.stdout.slice(mark + KEYS_MARK.length + 2)) : null };
  }

  private readKeys(output: string): KeysState {
    const failed = new RegExp(`^${KEYS_FAILED}=(\\d+)$`, "m").exec(output);
    if (failed === null && output !== "") return { inspection: parseKeyInspection(this.node, output), error: null };
    const said = output.split("\n").filter((l) => l.trim() !== "" && !l.startsWith(KEYS_FAILED)).at(-1);
    const how = this.escalation.length === 0 ? "as root" : `through ${this.escalation.join(" ")}`;
    return { inspection: null, error: `could not read the keys ${how}: ${said ?? `exit ${failed?.[1] ?? "unknown"}`}` };
  }

  async lock(owner: LockOwner, options: LockOptions): Promise<NodeLock> {
    // The lock script reads the node's state (and hive's record of its keys) once it holds the
    // lock: one round trip for all of it.
    const state = factsScript(this.node.profile, "state");
    const thenRun = options.withKeysManifest ? `${state}\necho ${KEYS_MANIFEST_MARK}\n${keyManifestScript()}` : state;
    const held = await acquireNodeLock(this, owner, { force: options.force, thenRun });
    const lines = held.output.split("\n");
    const mark = lines.indexOf(KEYS_MANIFEST_MARK);
    return {
      stale: held.stale,
      state: parseNodeState(mark === -1 ? held.output : lines.slice(0, mark).join("\n"), this.node.profile),
      keysManifest: mark === -1 ? undefined : lines.slice(mark + 1).join("\n"),
      token: held.token,
      lost: held.lost,
      release: held.release,
    };
  }

  async activate(
    options: Omit<SupervisorOptions, "id">,
    record: DeploymentRecord,
    hooks: { onLine?: (line: string) => void; guard?: string; timeoutMs?: number } = {},
  ): Promise<Activation> {
    return runSupervisedActivation(this, options, `${JSON.stringify(record, null, 2)}\n`, hooks);
  }

  async recordEvent(event: Omit<NodeEvent, "kind">): Promise<void> {
    const result = await this.runAsRoot(appendEventScript(event), { timeoutMs: 30_000 });
    if (result.exitCode !== 0) throw new NodeOperationError(`could not write the node's event log: ${result.stderr.trim().split("\n").at(-1) || `exit ${result.exitCode}`}`, "E_NODE");
  }

  async exec(argv: readonly string[], options: ExecOptions & { asRoot: boolean }): Promise<ExecResult> {
    const { asRoot, ...rest } = options;
    this.opened ??= this.pool.connect(this.target);
    const connection = await this.opened;
    return connection.exec(quoteCommand([...(asRoot ? this.escalation : []), ...argv]), rest);
  }

  /** The prefix that makes a command run as root on this node. */
  private get escalation(): readonly string[] {
    return this.target.user === "root" ? [] : this.node.privilegeEscalationCommand;
  }

  async runAsRoot(
    script: string,
    options: { stdin?: string | NodeJS.ReadableStream; timeoutMs?: number; onLine?: (line: string) => void } = {},
  ): Promise<CommandResult> {
    const lines = lineSplitter(options.onLine);
    if (options.stdin === undefined) {
      const connection = await this.pool.connect(this.target);
      const result = await connection.exec(quoteCommand([...this.escalation, "sh", "-c", script]), {
        stdin: options.stdin,
        timeoutMs: options.timeoutMs,
        onStdout: lines.stdout,
        onStderr: lines.stderr,
      });
      lines.flush();
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut };
    }
    const result = await this.runAsRootWithInput(script, options.stdin, { timeoutMs: options.timeoutMs, onStdout: lines.stdout, onStderr: lines.stderr });
    lines.flush();
    return result;
  }

  /**
   * Runs `script` as root and sends it `stdin` only once the command says it runs: through sudo,
   * input that arrives (and ends) before sudo relays it can be lost (seen with Debian's `Defaults
   * use_pty`). The bytes of stdout after that first line reach `onStdout` as they are.
   */
  private async runAsRootWithInput(
    script: string,
    stdin: string | NodeJS.ReadableStream,
    options: { timeoutMs?: number; onStdout?: (chunk: Buffer) => void; onStderr?: (chunk: Buffer) => void },
  ): Promise<CommandResult> {
    const connection = await this.pool.connect(this.target);
    const gate = new PassThrough();
    let head: Buffer | null = Buffer.alloc(0);
    const result = await connection.exec(quoteCommand([...this.escalation, "sh", "-c", `echo ${STDIN_READY}; ${script}`]), {
      stdin: gate,
      timeoutMs: options.timeoutMs,
      onStdout: (chunk) => {
        if (head === null) return options.onStdout?.(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(10);
        if (end === -1) return;
        const rest = head.subarray(end + 1);
        head = null;
        if (typeof stdin === "string") gate.end(stdin);
        else stdin.pipe(gate);
        if (rest.length > 0) options.onStdout?.(rest);
      },
      onStderr: options.onStderr,
    });
    if (head !== null) gate.end();
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


  /**
   * Copy a closure over the node's ssh2 connection, through one `nix-store --serve --write` on the
   * node (the protocol `nix copy` speaks): it substitutes what the node's own substituters have and
   * says which paths it holds, then imports hive's own export of the others. One Nix process on the
   * node and none here; no OpenSSH, no second handshake, the host key checked once, by the engine.
   */
  async copyClosure(closure: readonly StorePathInfo[], options: { substitute: boolean; onLine?: (line: string) => void; guard?: string }): Promise<void> {
    const input = new PassThrough();
    const replies = new ReplyReader();
    let refusal = "";
    // Bytes written before the command runs wait in `input` (see runAsRootWithInput).
    const serve = options.guard === undefined ? "exec nix-store --serve --write" : `${options.guard}\nexec nix-store --serve --write`;
    const exec = this.runAsRootWithInput(serve, input, {
      onStdout: (chunk) => {
        if (refusal.length < 4096) refusal += chunk.toString("latin1");
        replies.push(chunk);
      },
    });
    const ended = exec.then(
      (result) => {
        replies.end(new ServeProtocolError(`nix-store --serve on the node ended: ${trimNixError(result.stderr, 5) || `exit ${result.exitCode}`}`));
        return result;
      },
      (error: Error) => {
        replies.end(error);
        throw error;
      },
    );
    ended.catch(() => undefined); // awaited below; a failure also reaches the pending read
    const send = async (chunk: Buffer) => {
      if (!input.write(chunk)) await Promise.race([new Promise((resolve) => input.once("drain", resolve)), ended]);
    };
    try {
      await pushClosure({ send, replies }, closure, {
        substitute: options.substitute,
        onCopy: (missing, total) => options.onLine?.(`copying ${missing} of ${total} paths to ${this.target.host}`),
      });
    } catch (error) {
      input.end();
      const result = await ended.catch(() => undefined);
      if (result?.exitCode === LOCK_LOST_EXIT) throw new LockLostError(describeLockLostLine(refusal.split("\n")[0] ?? ""));
      if (error instanceof ExportError) throw new NodeOperationError(`could not send the closure: ${error.message}`, "E_PUSH");
      const stderr = result?.stderr ?? "";
      const reason = stderr.trim() !== "" ? trimNixError(stderr, 5) : (error as Error).message;
      throw new NodeOperationError(`copying the closure to ${this.target.host} failed: ${reason}${describeStoreFull(stderr)}`, "E_PUSH", tail(stderr));
    }
    input.end();
    const result = await ended;
    if (result.exitCode !== 0) {
      throw new NodeOperationError(`copying the closure to ${this.target.host} failed: ${trimNixError(result.stderr, 5) || `nix-store --serve exited ${result.exitCode}`}${describeStoreFull(result.stderr)}`, "E_PUSH", tail(result.stderr));
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
  const streams = { stdout: new LineSplitter((line) => onLine?.(line)), stderr: new LineSplitter((line) => onLine?.(line)) };
  return {
    stdout: (chunk: Buffer) => onLine && streams.stdout.push(chunk),
    stderr: (chunk: Buffer) => onLine && streams.stderr.push(chunk),
    flush: () => {
      streams.stdout.end();
      streams.stderr.end();
    },
  };
}
