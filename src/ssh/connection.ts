// One authenticated SSH connection (ssh2 Client): opening it with host key checks, and running commands on it.
import { homedir } from "node:os";
import { join } from "node:path";
import type { Duplex, Readable } from "node:stream";
import type { ClientChannel, ConnectConfig } from "ssh2";
import ssh2 from "ssh2";
import { AuthAttempts, loadIdentityFiles, makeAuthHandler } from "./auth.js";
import {
  HostKeyChangedError,
  HostKeyRevokedError,
  HostKeyUnknownError,
  SshAuthError,
  SshChannelError,
  SshConnectError,
  SshDisconnectedError,
  type SshEndpoint,
  type SshError,
} from "./errors.js";
import {
  appendKnownHost,
  fingerprintSha256,
  formatKnownHostsLine,
  hostKeyAlgorithmsFor,
  keyTypeLabel,
  knownKeyTypes,
  findKnownHostEntries,
  readKeyType,
  readKnownHostsFiles,
  verifyHostKey,
} from "./known-hosts.js";
import { PID_MARKER_PREFIX, PidMarkerFilter } from "./pid-marker.js";
import { TailBuffer } from "./tail-buffer.js";
import type { SshEndpointSettings, SshTarget } from "./target.js";

export interface ExecOptions {
  /** Sent to the command, then end of input. Without it the command sees end of input at once. */
  stdin?: string | Buffer | NodeJS.ReadableStream;
  /** Every chunk as it arrives (the result keeps only the tail). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Stop the command after this long: KILL it if the server allows, close its channel. */
  timeoutMs?: number;
  /** Same as a timeout, when aborted. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Null when the command was killed by a signal or stopped before it reported one. */
  exitCode: number | null;
  /** Signal name as Node names them (`SIGKILL`), when the command died of one. */
  signal: string | null;
  /** The last maxOutputBytes of each stream, as UTF-8. */
  stdout: string;
  stderr: string;
  /** The command was stopped by timeoutMs or the abort signal. */
  timedOut: boolean;
  /** The command was stopped by the abort signal (timedOut is then true as well). */
  aborted: boolean;
}

/** An open connection to one node; every step on the node runs over it. */
export interface SshConnection {
  readonly target: SshTarget;
  /** Milliseconds from starting to connect until authenticated. */
  readonly latencyMs: number;
  /** The host key the server proved, and the algorithm it proved it with. */
  readonly hostKey: HostKeyInfo;
  /** Run a command through the remote user's login shell; rejects only if the connection fails. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  close(): void;
}

export interface HostKeyInfo {
  /** Negotiated host key algorithm, e.g. `ssh-ed25519`, `rsa-sha2-512`. */
  algorithm: string;
  /** OpenSSH's label: ED25519, RSA, ECDSA. */
  keyType: string;
  fingerprint: string;
}

/** A host key hive has just trusted (acceptNewHostKeys) and written to known_hosts. */
export interface HostKeyRecorded {
  node: string;
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
  file: string;
}

export interface OpenConnectionOptions {
  target: SshTarget;
  /** The machine this connection goes to: the node, or a jump host on the way. */
  endpoint: SshEndpoint;
  settings: SshEndpointSettings;
  /** A stream to speak SSH over (a forwarded channel through a jump host) instead of TCP. */
  sock?: Duplex;
  agent: string | undefined;
  acceptNewHostKeys: boolean;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  maxOutputBytes: number;
  /** Concurrent commands per connection; OpenSSH's MaxSessions defaults to 10. */
  maxChannels: number;
  onHostKeyRecorded?: (event: HostKeyRecorded) => void;
  /** performance.now() when connecting began (before any jump hosts); default now. */
  startedAt?: number;
}

type Ssh2Error = Error & { level?: string; code?: string };

/** Connect, verify the host key, authenticate. Rejects with a typed SshError. */
export async function openConnection(options: OpenConnectionOptions): Promise<Ssh2Connection> {
  const { endpoint, settings, target } = options;
  const started = options.startedAt ?? performance.now();
  const entries = await readKnownHostsFiles(settings.knownHostsFiles);
  const algorithms = hostKeyAlgorithmsFor(knownKeyTypes(entries, settings.host, settings.port));
  const identities = await loadIdentityFiles(settings.identityFiles);
  const attempts = new AuthAttempts();
  const recordFile = settings.knownHostsFiles[0] ?? join(homedir(), ".ssh", "known_hosts");

  const client = new ssh2.Client();
  let hostKeyError: SshError | undefined;
  let keyToRecord: Buffer | undefined;
  const hostKey: HostKeyInfo = { algorithm: "", keyType: "", fingerprint: "" };
  client.once("handshake", (negotiated: { serverHostKey: string }) => {
    hostKey.algorithm = negotiated.serverHostKey;
  });

  const hostVerifier = (key: Buffer, verify: (valid: boolean) => void): void => {
    const verdict = verifyHostKey(entries, settings.host, settings.port, key);
    const keyType = keyTypeLabel(readKeyType(key) ?? "unknown");
    const fingerprint = fingerprintSha256(key);
    Object.assign(hostKey, { keyType, fingerprint });
    switch (verdict.status) {
      case "match":
        return verify(true);
      case "unknown":
        if (options.acceptNewHostKeys) {
          keyToRecord = key;
          return verify(true);
        }
        hostKeyError = new HostKeyUnknownError({ endpoint, keyType, fingerprint, knownHostsFile: recordFile });
        return verify(false);
      case "changed":
        hostKeyError = new HostKeyChangedError({
          endpoint,
          presented: { keyType, fingerprint },
          known: verdict.entries.map((e) => ({ file: e.file, line: e.line, keyType: keyTypeLabel(e.keyType) })),
        });
        return verify(false);
      case "revoked":
        hostKeyError = new HostKeyRevokedError({ endpoint, keyType, fingerprint, file: verdict.entry.file, line: verdict.entry.line });
        return verify(false);
    }
  };

  const config: ConnectConfig = {
    host: settings.host,
    port: settings.port,
    username: settings.user,
    readyTimeout: target.connectTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax,
    hostVerifier,
    authHandler: makeAuthHandler(settings.user, options.agent, identities, attempts),
    ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms } } : {}),
    ...(options.sock ? { sock: options.sock as Readable & Duplex } : {}),
  };

  const toTypedError = (error: Ssh2Error): SshError => {
    if (hostKeyError) return hostKeyError;
    const seconds = `${Math.round(target.connectTimeoutMs / 100) / 10}s`;
    switch (error.level) {
      case "client-authentication":
        return new SshAuthError({ endpoint, user: settings.user, tried: attempts.tried, identityFiles: identities.map(({ file, problem }) => (problem === undefined ? { file } : { file, problem })) }, { cause: error });
      case "client-timeout":
        return new SshConnectError({ endpoint, reason: `no SSH handshake within ${seconds} (connect timeout)` }, { cause: error });
      case "client-socket":
      case "client-dns":
        return new SshConnectError({ endpoint, reason: describeSocketError(error, settings.host) }, { cause: error });
      case "handshake":
        if (/no matching host key format/.test(error.message) && algorithms.length > 0) {
          const known = findKnownHostEntries(entries, settings.host, settings.port).filter((e) => e.marker === undefined);
          return new HostKeyChangedError({ endpoint, known: known.map((e) => ({ file: e.file, line: e.line, keyType: keyTypeLabel(e.keyType) })) }, { cause: error });
        }
        return new SshConnectError({ endpoint, reason: `SSH handshake failed: ${error.message}` }, { cause: error });
      default:
        if (/before handshake/.test(error.message)) {
          return new SshConnectError({ endpoint, reason: "connection closed before the SSH handshake (is it an SSH server?)" }, { cause: error });
        }
        return new SshConnectError({ endpoint, reason: error.message }, { cause: error });
    }
  };

  return new Promise<Ssh2Connection>((resolve, reject) => {
    let settled = false;
    const detach = (): void => {
      settled = true;
      client.off("error", onError).off("close", onClose).off("ready", onReady);
    };
    const fail = (error: SshError): void => {
      if (settled) return;
      detach();
      client.on("error", () => {});
      client.end();
      client.destroy();
      options.sock?.destroy();
      reject(error);
    };
    const onError = (error: Ssh2Error): void => {
      // ssh2 reports a missing or failing agent as an error, then goes on with the next method.
      if (error.level === "agent") return attempts.noteAgentProblem(error.message);
      fail(toTypedError(error));
    };
    const onClose = (): void => fail(new SshConnectError({ endpoint, reason: "the connection closed during the SSH handshake" }));
    const onReady = async (): Promise<void> => {
      if (keyToRecord !== undefined) {
        try {
          await recordHostKey(recordFile, settings.host, settings.port, keyToRecord);
        } catch (error) {
          const reason = `cannot record its host key in ${recordFile}: ${(error as Error).message}`;
          return fail(new SshConnectError({ endpoint, reason }, { cause: error }));
        }
        options.onHostKeyRecorded?.({
          node: endpoint.node,
          host: settings.host,
          port: settings.port,
          keyType: keyTypeLabel(readKeyType(keyToRecord) ?? "unknown"),
          fingerprint: fingerprintSha256(keyToRecord),
          file: recordFile,
        });
      }
      if (settled) return;
      detach();
      resolve(new Ssh2Connection(client, target, endpoint, performance.now() - started, hostKey, options));
    };
    client.on("error", onError).on("close", onClose).on("ready", onReady);
    try {
      client.connect(config);
    } catch (error) {
      fail(new SshConnectError({ endpoint, reason: (error as Error).message }, { cause: error }));
    }
  });
}

/** Appends in flight or done in this process, by file and line: two nodes on one host record its key once. */
const recordings = new Map<string, Promise<void>>();

function recordHostKey(file: string, host: string, port: number, key: Buffer): Promise<void> {
  const id = `${file}\n${formatKnownHostsLine(host, port, key)}`;
  let pending = recordings.get(id);
  if (pending === undefined) {
    pending = appendKnownHost(file, host, port, key);
    recordings.set(id, pending);
    pending.catch(() => recordings.delete(id));
  }
  return pending;
}

function describeSocketError(error: Ssh2Error, host: string): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "EHOSTUNREACH":
      return "host unreachable";
    case "ENETUNREACH":
      return "network unreachable";
    case "ETIMEDOUT":
      return "TCP connect timed out";
    case "ECONNRESET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve host name ${host}`;
    default:
      return error.message;
  }
}

/** How long a stopped command's channel gets to report its end before exec returns anyway. */
const STOP_GRACE_MS = 2000;
/** How long a stop waits for a command's pid line that has not arrived yet. */
const PID_WAIT_MS = 500;

/** An authenticated ssh2 Client with exec, channel limits, and typed errors when it drops. */
export class Ssh2Connection implements SshConnection {
  private closedError: SshDisconnectedError | undefined;
  private lastError: Error | undefined;
  private readonly dropListeners = new Set<(error: SshDisconnectedError) => void>();
  private readonly waiting: (() => void)[] = [];
  private channelsInUse = 0;
  private readonly closed: Promise<void>;

  constructor(
    private readonly client: InstanceType<typeof ssh2.Client>,
    readonly target: SshTarget,
    readonly endpoint: SshEndpoint,
    readonly latencyMs: number,
    readonly hostKey: HostKeyInfo,
    private readonly options: Pick<OpenConnectionOptions, "maxOutputBytes" | "maxChannels">,
  ) {
    client.on("error", (error: Error) => {
      this.lastError = error;
    });
    this.closed = new Promise((resolve) => {
      client.once("close", () => {
        const reason = this.lastError ? this.lastError.message : "closed by the server";
        this.markClosed(new SshDisconnectedError({ endpoint, reason }, { cause: this.lastError }));
        resolve();
      });
    });
  }

  /** Whether the connection has closed or dropped. */
  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** Called once when the connection closes or drops. */
  onClose(listener: (error: SshDisconnectedError) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.dropListeners.add(listener);
  }

  close(): void {
    if (!this.closedError) this.markClosed(new SshDisconnectedError({ endpoint: this.endpoint, reason: "closed by hive" }));
    this.client.end();
  }

  /** Close and wait until the socket is gone (forcibly after a second). */
  async closeAndWait(): Promise<void> {
    this.close();
    const timer = setTimeout(() => this.destroySocket(), 1000);
    await this.closed;
    clearTimeout(timer);
  }

  /**
   * Tear the TCP socket down. ssh2's own destroy() skips a socket whose writing side end() already
   * closed, and on a dead network (no FIN ever comes back) that socket would keep hive alive.
   */
  private destroySocket(): void {
    const sock = (this.client as unknown as { _sock?: { destroy(): void } })._sock;
    if (sock) sock.destroy();
    else this.client.destroy();
  }

  private markClosed(error: SshDisconnectedError): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const listener of [...this.dropListeners]) listener(error);
    this.dropListeners.clear();
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Open a TCP stream from the remote host to host:port (ProxyJump). */
  forwardOut(host: string, port: number, timeoutMs: number, endpoint: SshEndpoint): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const via = `${this.endpoint.host}:${this.endpoint.port}`;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new SshConnectError({ endpoint, reason: `jump host ${via} could not reach it within ${timeoutMs / 1000}s` }));
      }, timeoutMs);
      try {
        this.client.forwardOut("127.0.0.1", 0, host, port, (error, channel) => {
          clearTimeout(timer);
          if (timedOut) {
            channel?.close();
          } else if (error) {
            reject(new SshConnectError({ endpoint, reason: `jump host ${via} could not reach it: ${error.message}` }, { cause: error }));
          } else {
            resolve(channel);
          }
        });
      } catch (error) {
        clearTimeout(timer);
        reject(this.closedError ?? new SshConnectError({ endpoint, reason: `jump host ${via}: ${(error as Error).message}` }, { cause: error }));
      }
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closedError) throw this.closedError;
    const stopped = { exitCode: null, signal: null, stdout: "", stderr: "", timedOut: true };
    if (options.signal?.aborted) return { ...stopped, aborted: true };
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const admitted = await this.acquireChannel(options.signal, options.timeoutMs);
    if (this.closedError) {
      if (admitted) this.releaseChannel();
      throw this.closedError;
    }
    if (!admitted) return { ...stopped, aborted: options.signal?.aborted === true };
    try {
      return await this.runChannel(command, options, deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
    } finally {
      this.releaseChannel();
    }
  }

  /** Wait for a free channel slot; false when aborted or timed out while waiting. */
  private acquireChannel(signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<boolean> {
    if (this.channelsInUse < this.options.maxChannels) {
      this.channelsInUse++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const wake = (): void => {
        cleanup();
        if (this.closedError) return resolve(false);
        this.channelsInUse++;
        resolve(true);
      };
      const giveUp = (): void => {
        cleanup();
        resolve(false);
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(giveUp, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", giveUp);
        const index = this.waiting.indexOf(wake);
        if (index >= 0) this.waiting.splice(index, 1);
      };
      signal?.addEventListener("abort", giveUp, { once: true });
      this.waiting.push(wake);
    });
  }

  private releaseChannel(): void {
    this.channelsInUse--;
    this.waiting.shift()?.();
  }

  /** KILL a stopped command's whole session from a second channel (sshd will not signal root's sessions). */
  private killProcessGroup(pid: number): void {
    try {
      this.client.exec(`kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null`, (error, channel) => {
        if (error) return;
        channel.on("error", () => {});
        channel.resume();
        channel.stderr.resume();
        channel.end();
      });
    } catch {
      // Not connected any more: nothing left to kill from here.
    }
  }

  /** Stop a command whose exec already returned: KILL, then kill its group once its pid line arrives. */
  private stopLateChannel(channel: ClientChannel): void {
    const pidMarker = new PidMarkerFilter();
    channel.on("error", () => {});
    sendKill(channel);
    const close = (): void => {
      clearTimeout(timer);
      channel.close();
    };
    const timer = setTimeout(close, PID_WAIT_MS);
    channel.resume();
    channel.stderr.on("data", (chunk: Buffer) => {
      if (pidMarker.pid !== undefined) return;
      pidMarker.push(chunk);
      if (pidMarker.pid === undefined) return;
      this.killProcessGroup(pidMarker.pid);
      close();
    });
  }

  private runChannel(command: string, options: ExecOptions, timeoutMs: number | undefined): Promise<ExecResult> {
    const { stdin, onStdout, onStderr, signal } = options;
    const stdout = new TailBuffer(this.options.maxOutputBytes);
    const stderr = new TailBuffer(this.options.maxOutputBytes);
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let timedOut = false;
    let aborted = false;
    let channel: ClientChannel | undefined;
    // Only a command that may be stopped announces its pid; others run exactly as given.
    const pidMarker = timeoutMs !== undefined || signal !== undefined ? new PidMarkerFilter() : undefined;
    const onStderrBytes = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      stderr.push(chunk);
      onStderr?.(chunk);
    };

    return new Promise<ExecResult>((resolve, reject) => {
      let done = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        done = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        clearTimeout(pidWait);
        signal?.removeEventListener("abort", onAbort);
        this.dropListeners.delete(onDrop);
      };
      const finish = (): void => {
        if (done) return;
        if (pidMarker) onStderrBytes(pidMarker.flush());
        cleanup();
        resolve({ exitCode, signal: exitSignal, stdout: stdout.toString(), stderr: stderr.toString(), timedOut, aborted });
      };
      const fail = (error: Error): void => {
        if (done) return;
        cleanup();
        channel?.close();
        reject(error);
      };
      const onDrop = (error: SshDisconnectedError): void => fail(error);
      let pidWait: NodeJS.Timeout | undefined;
      const closeChannel = (open: ClientChannel): void => {
        clearTimeout(pidWait);
        pidWait = undefined;
        if (pidMarker?.pid !== undefined) this.killProcessGroup(pidMarker.pid);
        open.close();
        graceTimer = setTimeout(finish, STOP_GRACE_MS);
      };
      const stop = (): void => {
        if (done || timedOut) return;
        timedOut = true;
        if (channel === undefined) return finish();
        sendKill(channel);
        const open = channel;
        // The pid line may still be in flight; closing first would lose it and leave the command running.
        if (pidMarker !== undefined && pidMarker.pid === undefined) pidWait = setTimeout(() => closeChannel(open), PID_WAIT_MS);
        else closeChannel(open);
      };
      const onAbort = (): void => {
        aborted = true;
        stop();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(stop, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.dropListeners.add(onDrop);

      const opened = (error: Error | undefined, ch: ClientChannel): void => {
        if (error) {
          return fail(this.closedError ?? new SshChannelError({ endpoint: this.endpoint, command: summarize(command), reason: error.message }, { cause: error }));
        }
        if (done) {
          // Stopped while the channel was opening: the command has started, so stop it too.
          if (timedOut && pidMarker) this.stopLateChannel(ch);
          else ch.close();
          return;
        }
        channel = ch;
        ch.on("data", (chunk: Buffer) => {
          stdout.push(chunk);
          onStdout?.(chunk);
        });
        ch.stderr.on("data", (chunk: Buffer) => {
          onStderrBytes(pidMarker ? pidMarker.push(chunk) : chunk);
          if (pidWait !== undefined && pidMarker?.pid !== undefined) closeChannel(ch);
        });
        ch.on("exit", (code: number | null, name?: string) => {
          if (typeof code === "number") exitCode = code;
          else if (name !== undefined) exitSignal = name;
        });
        ch.on("error", () => {
          // Reported through close; a dropped connection through onDrop.
        });
        ch.on("close", () => {
          // A channel closed without an exit status by a dropped connection is a failure, not a result.
          if (this.closedError && exitCode === null && exitSignal === null && !timedOut) return fail(this.closedError);
          finish();
        });
        sendStdin(ch, stdin, fail);
      };
      try {
        this.client.exec(pidMarker ? PID_MARKER_PREFIX + command : command, opened);
      } catch (error) {
        fail(this.closedError ?? new SshChannelError({ endpoint: this.endpoint, command: summarize(command), reason: (error as Error).message }, { cause: error }));
      }
    });
  }
}

/**
 * Ask sshd to KILL the command (OpenSSH honours "signal" requests since 7.9). ssh2's
 * channel.signal() sends nothing once our side has sent EOF (outgoing state "eof"), which exec
 * always does after stdin, so the request goes through ssh2's protocol object, as channel.signal()
 * itself does while the channel is open.
 */
function sendKill(channel: ClientChannel): void {
  const internal = channel as unknown as {
    type?: string;
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    const protocol = internal._client?._protocol;
    const state = internal.outgoing?.state;
    if (internal.type === "session" && (state === "open" || state === "eof") && internal.outgoing && protocol) {
      protocol.signal(internal.outgoing.id, "KILL");
    } else {
      channel.signal("KILL");
    }
  } catch {
    // The channel or connection is already closing.
  }
}

function sendStdin(channel: ClientChannel, stdin: ExecOptions["stdin"], fail: (error: Error) => void): void {
  if (stdin === undefined) {
    channel.end();
  } else if (typeof stdin === "string" || Buffer.isBuffer(stdin)) {
    channel.end(stdin);
  } else {
    stdin.on("error", (error: Error) => fail(error));
    stdin.pipe(channel);
  }
}

/** The first line of a command, shortened, for error messages. */
function summarize(command: string): string {
  const first = command.split("\n")[0] ?? "";
  return first.length > 80 || command.includes("\n") ? `${first.slice(0, 77)}...` : first;
}
