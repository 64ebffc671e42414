// OpenSSH options for the places hive runs OpenSSH (nix copy), matching what the ssh2 engine verified.
import type { Node } from "../config/normalize.js";
import type { SshTarget } from "../ssh/target.js";

/**
 * NIX_SSHOPTS for a node: port, identity, the same known_hosts files with strict checking (the
 * ssh2 connection already verified, or recorded on --accept-new-host-keys, the key), ProxyJump.
 * Nix splits NIX_SSHOPTS on spaces, so paths with spaces are not supported here.
 */
export function openSshOptions(target: SshTarget, node: Node): string[] {
  const options = ["-p", String(target.port), "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"];
  options.push("-o", `ConnectTimeout=${Math.max(1, Math.round(target.connectTimeoutMs / 1000))}`);
  // One file per option: Nix splits NIX_SSHOPTS on spaces, so the list can not go in one value.
  const [userFile, globalFile] = target.knownHostsFiles;
  if (userFile !== undefined) options.push("-o", `UserKnownHostsFile=${userFile}`);
  options.push("-o", `GlobalKnownHostsFile=${globalFile ?? "/dev/null"}`);
  for (const identity of target.identityFiles) options.push("-i", identity);
  if (target.proxyJump !== undefined) options.push("-o", `ProxyJump=${target.proxyJump}`);
  options.push(...node.ssh.options);
  return options;
}
