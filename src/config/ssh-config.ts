// Reads ~/.ssh/config so hive resolves host, port and user the way OpenSSH would.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import SSHConfig from "ssh-config";

/** What ~/.ssh/config says about one host alias; only the settings hive honours. */
export interface SshHostConfig {
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
  proxyJump?: string;
  /** UserKnownHostsFile: one or more files. */
  userKnownHostsFiles?: string[];
}

export type SshConfigLookup = (alias: string) => SshHostConfig;

/** Parse the user's ssh config once; a missing file means no overrides. */
export function loadSshConfig(file = join(homedir(), ".ssh", "config")): SshConfigLookup {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return () => ({ identityFiles: [] });
  }
  const config = SSHConfig.parse(text);
  return (alias) => {
    const computed = config.compute(alias) as Record<string, string | string[] | undefined>;
    const one = (key: string): string | undefined => {
      const value = computed[key];
      const first = Array.isArray(value) ? value[0] : value;
      return first === undefined ? undefined : expandTokens(first, alias);
    };
    const identity = computed["IdentityFile"];
    const port = one("Port");
    return {
      hostName: one("HostName"),
      port: port === undefined ? undefined : Number.parseInt(port, 10),
      user: one("User"),
      identityFiles: (Array.isArray(identity) ? identity : identity ? [identity] : []).map((f) =>
        expandHome(expandTokens(f, alias)),
      ),
      proxyJump: one("ProxyJump"),
      userKnownHostsFiles: (one("UserKnownHostsFile") ?? "")
        .split(/\s+/)
        .filter((f) => f !== "")
        .map((f) => expandHome(f)),
    };
  };
}

/** OpenSSH's %h (the alias) and %% tokens; others are left for OpenSSH itself. */
function expandTokens(value: string, alias: string): string {
  return value.replace(/%([h%])/g, (_, token: string) => (token === "h" ? alias : "%"));
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}
