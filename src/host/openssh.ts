// OpenSSH settings for the places hive runs OpenSSH (nix copy), matching what the ssh2 engine verified.
//
// They go into an ssh_config file passed with -F, not into NIX_SSHOPTS options: Nix splits
// NIX_SSHOPTS on spaces, and OpenSSH gives a ProxyJump hop (its own ssh process) only the -F file.
import type { Node } from "../config/normalize.js";
import type { SshEndpointSettings, SshTarget } from "../ssh/target.js";

/** The ssh_config text for reaching the node, and every jump host on the way, as ssh2 does. */
export function openSshConfig(target: SshTarget): string {
  const jumps = target.jumps ?? [];
  const block = (endpoint: SshEndpointSettings, extra: string[]) => [
    `Host ${quote(endpoint.host)}`,
    `  HostName ${quote(endpoint.host)}`,
    `  Port ${endpoint.port}`,
    `  User ${quote(endpoint.user)}`,
    ...endpoint.identityFiles.map((file) => `  IdentityFile ${quote(file)}`),
    `  UserKnownHostsFile ${endpoint.knownHostsFiles.length > 0 ? endpoint.knownHostsFiles.map(quote).join(" ") : "/dev/null"}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    `  ConnectTimeout ${Math.max(1, Math.round(target.connectTimeoutMs / 1000))}`,
    ...extra,
  ];
  const proxyJump =
    jumps.length > 0
      ? [`  ProxyJump ${jumps.map((h) => `${h.user}@${h.host.includes(":") ? `[${h.host}]` : h.host}:${h.port}`).join(",")}`]
      : target.proxyJump !== undefined
        ? [`  ProxyJump ${target.proxyJump}`]
        : [];
  return [
    "# Written by hive for one nix copy; removed afterwards.",
    ...block(target, proxyJump),
    ...jumps.flatMap((hop) => block(hop, [])),
    // Everything else still comes from the user's own config.
    "Match all",
    "  Include ~/.ssh/config",
    "",
  ].join("\n");
}

/** NIX_SSHOPTS: the config file, then the node's own extra OpenSSH arguments. */
export function nixSshOpts(configFile: string, node: Node): string {
  return ["-F", configFile, ...node.ssh.options].join(" ");
}

function quote(value: string): string {
  return /[\s"#]/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value;
}
