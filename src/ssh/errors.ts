// Typed failures of the SSH engine: host keys, connecting, authenticating, lost connections.
import { type ErrorCode, HiveError } from "../errors.js";
import { knownHostsName } from "./known-hosts.js";
import { quoteShellArg } from "./quote.js";

/** The machine an SSH failure concerns: the node itself, or a ProxyJump hop on the way to it. */
export interface SshEndpoint {
  node: string;
  host: string;
  port: number;
  /** Set when this endpoint is a ProxyJump hop, not the node. */
  jumpHost?: boolean;
}

/** `web-1 (10.0.0.1:22)`, or `web-1 (jump host 10.0.0.9:22)` for a hop. */
export function describeEndpoint(endpoint: SshEndpoint): string {
  const where = `${endpoint.host}:${endpoint.port}`;
  return `${endpoint.node} (${endpoint.jumpHost ? `jump host ${where}` : where})`;
}

interface SshErrorDetails {
  endpoint: SshEndpoint;
}

/** Base of the SSH errors; each carries its details so it can be re-issued for another node. */
export abstract class SshError<D extends SshErrorDetails = SshErrorDetails> extends HiveError {
  constructor(
    code: ErrorCode,
    readonly details: D,
    message: string,
    hint?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, { hint, cause: options?.cause });
  }

  get endpoint(): SshEndpoint {
    return this.details.endpoint;
  }

  /** The same failure reported for another node (a shared jump host fails every node behind it). */
  forNode(node: string): this {
    const Ctor = this.constructor as new (details: D, options?: { cause?: unknown }) => this;
    return new Ctor({ ...this.details, endpoint: { ...this.details.endpoint, node } }, { cause: this.cause });
  }
}

export interface HostKeyUnknownDetails extends SshErrorDetails {
  /** OpenSSH's label: ED25519, RSA, ECDSA. */
  keyType: string;
  fingerprint: string;
  /** The known_hosts file a trusted key would go to. */
  knownHostsFile: string;
}

/** The host presented a key no known_hosts file lists for it. */
export class HostKeyUnknownError extends SshError<HostKeyUnknownDetails> {

  constructor(details: HostKeyUnknownDetails, options?: { cause?: unknown }) {
    const { endpoint, keyType, fingerprint, knownHostsFile } = details;
    const file = quoteShellArg(knownHostsFile);
    super(
      "E_HOSTKEY_UNKNOWN",
      details,
      `${describeEndpoint(endpoint)}: host key unknown: ${keyType} ${fingerprint}; ` +
        `verify it, then trust it with --accept-new-host-keys or add it to ${knownHostsFile} ` +
        `(ssh-keyscan -p ${endpoint.port} ${quoteShellArg(endpoint.host)} >> ${file})`,
      undefined,
      options,
    );
  }
}

/** Where a known key for a host is recorded. */
export interface KnownKeyLocation {
  file: string;
  line: number;
  keyType: string;
}

export interface HostKeyChangedDetails extends SshErrorDetails {
  /** What the host presented; absent when it offered none of the key types known for it. */
  presented?: { keyType: string; fingerprint: string };
  known: KnownKeyLocation[];
}

/** The host presented a key that differs from the one recorded for it. acceptNewHostKeys does not override this. */
export class HostKeyChangedError extends SshError<HostKeyChangedDetails> {

  constructor(details: HostKeyChangedDetails, options?: { cause?: unknown }) {
    const { endpoint, presented, known } = details;
    const name = knownHostsName(endpoint.host, endpoint.port);
    const where = known.map((k) => `${k.file}:${k.line}`).join(", ");
    const first = known[0];
    const what = presented
      ? `host key changed: it presented ${presented.keyType} ${presented.fingerprint}, which differs from the key recorded in ${where}`
      : `host key changed: it offers none of the key types recorded for it (${[...new Set(known.map((k) => k.keyType))].join(", ")} in ${where})`;
    super(
      "E_HOSTKEY_CHANGED",
      details,
      `${describeEndpoint(endpoint)}: ${what}; someone may be intercepting the connection (an attack), or the host was reinstalled`,
      first
        ? `if the change is expected, remove the old entry with ssh-keygen -R ${quoteShellArg(name)} -f ${quoteShellArg(first.file)} and connect again`
        : undefined,
      options,
    );
  }
}

export interface HostKeyRevokedDetails extends SshErrorDetails {
  keyType: string;
  fingerprint: string;
  file: string;
  line: number;
}

/** The host presented a key marked @revoked. */
export class HostKeyRevokedError extends SshError<HostKeyRevokedDetails> {

  constructor(details: HostKeyRevokedDetails, options?: { cause?: unknown }) {
    const { endpoint, keyType, fingerprint, file, line } = details;
    super(
      "E_HOSTKEY_REVOKED",
      details,
      `${describeEndpoint(endpoint)}: host key ${keyType} ${fingerprint} is revoked (${file}:${line}); refusing to connect`,
      "the host must be given a new key; until then it cannot be trusted",
      options,
    );
  }
}

export interface SshConnectDetails extends SshErrorDetails {
  /** Short reason: `connection refused`, `timed out after 10s`, ... */
  reason: string;
}

/** The host could not be reached: refused, unreachable, timed out, or the handshake failed. */
export class SshConnectError extends SshError<SshConnectDetails> {

  constructor(details: SshConnectDetails, options?: { cause?: unknown }) {
    const { endpoint, reason } = details;
    super(
      "E_SSH_CONNECT",
      details,
      `${describeEndpoint(endpoint)}: cannot connect: ${reason}`,
      `check that the host is up and sshd listens on ${endpoint.host} port ${endpoint.port}`,
      options,
    );
  }
}

export interface SshAuthDetails extends SshErrorDetails {
  user: string;
  /** Each method tried, e.g. `agent /run/user/0/agent.sock (2 keys)`, `publickey /root/.ssh/id_ed25519`. */
  tried: string[];
  /** Identity files considered, and why any were not used. */
  identityFiles: { file: string; problem?: string }[];
}

/** No authentication method the server accepts worked. */
export class SshAuthError extends SshError<SshAuthDetails> {

  constructor(details: SshAuthDetails, options?: { cause?: unknown }) {
    const { endpoint, user, tried, identityFiles } = details;
    const skipped = identityFiles.filter((f) => f.problem !== undefined).map((f) => `${f.file} (${f.problem})`);
    super(
      "E_SSH_AUTH",
      details,
      `${describeEndpoint(endpoint)}: authentication as ${user} failed; tried ${tried.length > 0 ? tried.join(", ") : "nothing"}` +
        (skipped.length > 0 ? `; skipped ${skipped.join(", ")}` : ""),
      `load a key into ssh-agent or set ssh.identityFile, and make sure its public key is in ~${user}/.ssh/authorized_keys on the host`,
      options,
    );
  }
}

export interface SshDisconnectedDetails extends SshErrorDetails {
  reason: string;
}

/** An established connection dropped (or was closed) while a command was running or about to run. */
export class SshDisconnectedError extends SshError<SshDisconnectedDetails> {

  constructor(details: SshDisconnectedDetails, options?: { cause?: unknown }) {
    super("E_SSH_DISCONNECTED", details, `${describeEndpoint(details.endpoint)}: connection lost: ${details.reason}`, undefined, options);
  }
}

export interface SshChannelDetails extends SshErrorDetails {
  command: string;
  reason: string;
}

/** The server refused to start a command (e.g. too many sessions on one connection). */
export class SshChannelError extends SshError<SshChannelDetails> {

  constructor(details: SshChannelDetails, options?: { cause?: unknown }) {
    super("E_SSH_CHANNEL", details, `${describeEndpoint(details.endpoint)}: cannot run ${details.command}: ${details.reason}`, undefined, options);
  }
}

/** What went wrong with the TCP connection, in words, from the socket error ssh2 reports. */
export function describeSocketError(error: Error & { code?: string }, host: string): string {
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
