// The SSH connection pool: one connection per node, shared jump hosts, all closed together at the end.
import {
  openConnection,
  type HostKeyRecorded,
  type OpenConnectionOptions,
  type Ssh2Connection,
  type SshConnection,
} from "./connection.js";
import { SshError, type SshEndpoint } from "./errors.js";
import { parseProxyJump, type SshEndpointSettings, type SshTarget } from "./target.js";

export interface SshPoolOptions {
  /** Trust and record host keys no known_hosts file has (trust on first use). Changed keys are still refused. */
  acceptNewHostKeys?: boolean;
  /** ssh-agent socket; default $SSH_AUTH_SOCK. Pass undefined explicitly for no agent. */
  agent?: string | undefined;
  /** Default 5 s: with 3 unanswered, a dead node is noticed within 15 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dead; default 3. */
  keepaliveCountMax?: number;
  /** Output kept per stream of each command (the tail); default 1 MiB. */
  maxOutputBytes?: number;
  /** Concurrent commands per connection; default 10, OpenSSH's MaxSessions. */
  maxChannelsPerConnection?: number;
  /** Told about each host key trusted through acceptNewHostKeys. */
  onHostKeyRecorded?: (event: HostKeyRecorded) => void;
}

/** Opens SSH connections on demand and reuses them: every step on a node shares one connection. */
export class SshPool {
  private readonly nodes = new Map<string, Promise<Ssh2Connection>>();
  private readonly hops = new Map<string, Promise<Ssh2Connection>>();
  private readonly fresh = new Set<Ssh2Connection>();
  private readonly base: Omit<OpenConnectionOptions, "target" | "endpoint" | "settings" | "sock">;
  /** Set by closeAll: a connection that completes afterwards is closed at once, not kept. */
  private closing = false;

  constructor(options: SshPoolOptions = {}) {
    const agent = "agent" in options ? options.agent : process.env["SSH_AUTH_SOCK"];
    this.base = {
      agent: agent === "" ? undefined : agent,
      acceptNewHostKeys: options.acceptNewHostKeys ?? false,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
      maxChannels: options.maxChannelsPerConnection ?? 10,
      ...(options.onHostKeyRecorded ? { onHostKeyRecorded: options.onHostKeyRecorded } : {}),
    };
  }

  /** The node's open connection, else a new one; concurrent callers share one attempt. */
  connect(target: SshTarget): Promise<SshConnection> {
    if (this.closing) return Promise.reject(new Error("the SSH pool is closed"));
    const key = [target.node, endpointKey(target), ...jumpsOf(target).map(endpointKey)].join("\n");
    return this.share(this.nodes, key, () => this.open(target));
  }

  /**
   * A new connection of the node's own, not shared and not reused (jump hosts still are): proof
   * that the node accepts new SSH connections, e.g. after activating a configuration. The caller
   * closes it; closeAll closes it too if the caller did not.
   */
  async connectFresh(target: SshTarget): Promise<SshConnection> {
    if (this.closing) throw new Error("the SSH pool is closed");
    const connection = await this.open(target);
    if (this.closing) {
      void connection.closeAndWait();
      throw new Error("the SSH pool was closed while this connection opened");
    }
    this.fresh.add(connection);
    connection.onClose(() => this.fresh.delete(connection));
    return connection;
  }

  private async open(target: SshTarget): Promise<Ssh2Connection> {
    const started = performance.now();
    const jumps = jumpsOf(target);
    const endpoint: SshEndpoint = { node: target.node, host: target.host, port: target.port };
    let via: Ssh2Connection | undefined;
    for (let i = 0; i < jumps.length; i++) via = await this.connectHop(target, jumps.slice(0, i + 1));
    const sock = via ? await via.forwardOut(target.host, target.port, target.connectTimeoutMs, endpoint) : undefined;
    return openConnection({ ...this.base, target, endpoint, settings: target, startedAt: started, ...(sock ? { sock } : {}) });
  }

  /** Close every connection, nodes before the jump hosts they go through. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const close = async (pending: Promise<Ssh2Connection>[]) => {
      await Promise.all(pending.map((p) => p.then((c) => c.closeAndWait(), () => undefined)));
    };
    const nodes = [...this.nodes.values(), ...[...this.fresh].map((c) => Promise.resolve(c))];
    const hops = [...this.hops.values()];
    this.nodes.clear();
    this.fresh.clear();
    this.hops.clear();
    await close(nodes);
    await close(hops.reverse());
  }

  /** The connection to the last hop of `chain`, through the ones before it; shared by every node behind it. */
  private connectHop(target: SshTarget, chain: SshEndpointSettings[]): Promise<Ssh2Connection> {
    const hop = chain[chain.length - 1];
    if (hop === undefined) throw new Error("connectHop: empty chain");
    const key = chain.map((h) => `${endpointKey(h)} ${h.knownHostsFiles.join(":")}`).join("\n");
    const shared = this.share(this.hops, key, async () => {
      const endpoint: SshEndpoint = { node: target.node, host: hop.host, port: hop.port, jumpHost: true };
      const previous = chain.length > 1 ? await this.connectHop(target, chain.slice(0, -1)) : undefined;
      const sock = previous ? await previous.forwardOut(hop.host, hop.port, target.connectTimeoutMs, endpoint) : undefined;
      const hopTarget: SshTarget = { ...hop, node: target.node, connectTimeoutMs: target.connectTimeoutMs };
      return openConnection({ ...this.base, target: hopTarget, endpoint, settings: hop, ...(sock ? { sock } : {}) });
    });
    // A jump host failing fails every node behind it; each is told in its own name.
    return shared.catch((error: unknown) => {
      throw error instanceof SshError && error.endpoint.node !== target.node ? error.forNode(target.node) : error;
    });
  }

  private share(
    map: Map<string, Promise<Ssh2Connection>>,
    key: string,
    open: () => Promise<Ssh2Connection>,
  ): Promise<Ssh2Connection> {
    const existing = map.get(key);
    if (existing) return existing;
    const pending = open().then(
      (connection) => {
        if (this.closing) {
          // Opened after closeAll: nobody will close it later.
          void connection.closeAndWait();
          throw new Error("the SSH pool was closed while this connection opened");
        }
        connection.onClose(() => {
          if (map.get(key) === pending) map.delete(key);
        });
        return connection;
      },
      (error: unknown) => {
        if (map.get(key) === pending) map.delete(key);
        throw error;
      },
    );
    map.set(key, pending);
    return pending;
  }
}

function endpointKey(e: { user: string; host: string; port: number }): string {
  return `${e.user}@${e.host}:${e.port}`;
}

/** Hops to go through: resolved ones, else ProxyJump parsed without ~/.ssh/config (user defaults to the node's). */
function jumpsOf(target: SshTarget): SshEndpointSettings[] {
  if (target.jumps) return target.jumps;
  if (target.proxyJump === undefined || target.proxyJump.toLowerCase() === "none") return [];
  return parseProxyJump(target.proxyJump).map((hop) => ({
    host: hop.host,
    port: hop.port ?? 22,
    user: hop.user ?? target.user,
    identityFiles: target.identityFiles,
    knownHostsFiles: target.knownHostsFiles,
  }));
}
