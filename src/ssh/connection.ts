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
  SshConnectError,
  SshDisconnectedError,
  type SshEndpoint,
  type SshError,
  describeSocketError,
} from "./errors.js";
import {
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  keyTypeLabel,
  knownKeyTypes,
  findKnownHostEntries,
  readKeyType,
  readKnownHostsFiles,
  recordHostKey,
  verifyHostKey,
} from "./known-hosts.js";
import { type ChannelLink, type ExecOptions, type ExecResult, runExecChannel } from "./exec-channel.js";
import type { SshEndpointSettings, SshTarget } from "./target.js";

export type { ExecOptions, ExecResult, OutputValve } from "./exec-channel.js";

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

/** How long a closed connection's socket gets to finish its goodbye before it is torn down. */
const CLOSE_GRACE_MS = 1000;

/** An authenticated ssh2 Client with exec, channel limits, and typed errors when it drops. */
export class Ssh2Connection implements SshConnection {
  private closedError: SshDisconnectedError | undefined;
  private lastError: Error | undefined;
  private readonly dropListeners = new Set<(error: SshDisconnectedError) => void>();
  private readonly waiting: (() => void)[] = [];
  private channelsInUse = 0;
  private readonly closed: Promise<void>;
  private closing: Promise<void> | undefined;
  /** What each command's channel needs of this connection. */
  private readonly link: ChannelLink;

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
    this.link = {
      client,
      endpoint,
      maxOutputBytes: options.maxOutputBytes,
      closedError: () => this.closedError,
      onDrop: (listener) => {
        this.dropListeners.add(listener);
        return () => this.dropListeners.delete(listener);
      },
    };
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

  /**
   * Ends the connection. A node that does not answer (hung, or its network gone) never completes
   * the goodbye, and its socket would keep hive running: it is torn down after a second.
   */
  close(): void {
    if (!this.closedError) this.markClosed(new SshDisconnectedError({ endpoint: this.endpoint, reason: "closed by hive" }));
    if (this.closing) return;
    this.client.end();
    const timer = setTimeout(() => this.destroySocket(), CLOSE_GRACE_MS);
    this.closing = this.closed.then(() => clearTimeout(timer));
  }

  /** Close and wait until the socket is gone (forcibly after a second). */
  async closeAndWait(): Promise<void> {
    this.close();
    await this.closed;
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
      return await runExecChannel(this.link, command, options, deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
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
}
