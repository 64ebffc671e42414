// Where and as whom hive connects to a node: hive.ts settings, else ~/.ssh/config, else OpenSSH's defaults.
import { existsSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type { Node } from "../config/normalize.js";
import { ConfigError } from "../errors.js";
import type { SshConfigLookup } from "../config/ssh-config.js";

/** One machine to open an SSH connection to. */
export interface SshEndpointSettings {
  host: string;
  port: number;
  user: string;
  /** Private keys to try after ssh-agent's, in order. */
  identityFiles: string[];
  /** Files host keys are checked against, in order; the first is where new keys are recorded. */
  knownHostsFiles: string[];
}

/** Everything the SSH pool needs to reach one node. */
export interface SshTarget extends SshEndpointSettings {
  node: string;
  /** Covers TCP connect, handshake and authentication, for each hop too. */
  connectTimeoutMs: number;
  /** ProxyJump as written in ~/.ssh/config, for display. */
  proxyJump?: string;
  /** The ProxyJump hops resolved, nearest first; the pool connects through them in order. */
  jumps?: SshEndpointSettings[];
}

export interface ResolveOptions {
  /** Home directory for ~/.ssh defaults; default os.homedir(). */
  home?: string;
  /** User for jump hosts that name none, as OpenSSH does; default the local user. */
  localUser?: string;
  /** Existence check for default identity files; default fs.existsSync. */
  exists?: (path: string) => boolean;
}

const DEFAULT_IDENTITY_FILES = ["id_ed25519", "id_ecdsa", "id_rsa"];
const SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts";

/**
 * Resolve how to reach a node. The node already carries hive.ts's targetHost/Port/User merged
 * with ~/.ssh/config; a targetHost that is itself a config alias gets the alias's HostName, as
 * OpenSSH would. Identity files: hive.ts's ssh.identityFile, else the config's IdentityFile
 * entries, else those of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist.
 */
export function resolveSshTarget(node: Node, sshConfig: SshConfigLookup, options: ResolveOptions = {}): SshTarget {
  const home = options.home ?? homedir();
  const exists = options.exists ?? existsSync;
  const config = sshConfig(node.sshAlias);
  const defaultIdentities = () => DEFAULT_IDENTITY_FILES.map((f) => join(home, ".ssh", f)).filter((f) => exists(f));
  const defaultKnownHosts = [join(home, ".ssh", "known_hosts"), SYSTEM_KNOWN_HOSTS];

  const identityFiles =
    node.ssh.identityFile !== undefined
      ? [node.ssh.identityFile]
      : config.identityFiles.length > 0
        ? config.identityFiles
        : defaultIdentities();
  const fromConfig = config.userKnownHostsFiles ?? [];
  const knownHostsFiles =
    node.ssh.knownHostsFile !== undefined
      ? [node.ssh.knownHostsFile]
      : fromConfig.length > 0
        ? [...fromConfig, SYSTEM_KNOWN_HOSTS]
        : defaultKnownHosts;

  const target: SshTarget = {
    node: node.name,
    host: node.targetHost === node.sshAlias ? (config.hostName ?? node.targetHost) : node.targetHost,
    port: node.targetPort,
    user: node.targetUser,
    identityFiles,
    knownHostsFiles,
    connectTimeoutMs: node.ssh.connectTimeout * 1000,
  };

  const proxyJump = config.proxyJump;
  if (proxyJump !== undefined && proxyJump.toLowerCase() !== "none") {
    const localUser = options.localUser ?? userInfo().username;
    target.proxyJump = proxyJump;
    target.jumps = parseProxyJump(proxyJump).map((hop) => {
      const hopConfig = sshConfig(hop.host);
      const own = hopConfig.identityFiles.length > 0 ? hopConfig.identityFiles : defaultIdentities();
      return {
        host: hopConfig.hostName ?? hop.host,
        port: hop.port ?? hopConfig.port ?? 22,
        user: hop.user ?? hopConfig.user ?? localUser,
        // The node's own identity file is tried last: a bastion often takes the same key.
        identityFiles: [...new Set([...own, ...identityFiles])],
        // A node's known_hosts file, when hive.ts sets one, may hold the bastion too.
        knownHostsFiles: [...new Set([...knownHostsFiles, ...defaultKnownHosts])],
      };
    });
  }
  return target;
}

/** One hop of a ProxyJump value, before ~/.ssh/config is applied to it. */
export interface ProxyJumpHop {
  user?: string;
  host: string;
  port?: number;
}

/** Parse ProxyJump: comma-separated `[user@]host[:port]` or `ssh://[user@]host[:port]`, IPv6 in brackets. */
export function parseProxyJump(spec: string): ProxyJumpHop[] {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((raw) => {
      let rest = raw.startsWith("ssh://") ? raw.slice("ssh://".length).replace(/\/$/, "") : raw;
      const hop: ProxyJumpHop = { host: "" };
      const at = rest.lastIndexOf("@");
      if (at >= 0) {
        hop.user = rest.slice(0, at);
        rest = rest.slice(at + 1);
      }
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
      const hostPort = /^([^:]+):(\d+)$/.exec(rest);
      if (bracketed) {
        hop.host = bracketed[1] ?? "";
        if (bracketed[2] !== undefined) hop.port = Number.parseInt(bracketed[2], 10);
      } else if (hostPort) {
        hop.host = hostPort[1] ?? "";
        hop.port = Number.parseInt(hostPort[2] ?? "", 10);
      } else {
        hop.host = rest;
      }
      if (hop.host === "") {
        throw new ConfigError([`ssh config: ProxyJump ${JSON.stringify(spec)}: hop ${JSON.stringify(raw)} names no host`]);
      }
      return hop;
    });
}
