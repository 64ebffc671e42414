import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveNode } from "../config/normalize.js";
import { nodeSchema, type NodeInput } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import { loadSshConfig, type SshConfigLookup } from "../config/ssh-config.js";
import { parseProxyJump, resolveSshTarget } from "./target.js";

const home = mkdtempSync(join(tmpdir(), "hive-target-"));
mkdirSync(join(home, ".ssh"));
const configFile = join(home, ".ssh", "config");
writeFileSync(
  configFile,
  [
    "Host web",
    "  HostName 10.0.0.5",
    "  Port 2200",
    "  User deploy",
    `  IdentityFile ${home}/keys/web`,
    `  IdentityFile ${home}/keys/%h-extra`,
    "  ProxyJump ops@bastion:2222,inner",
    "Host bastion",
    "  HostName 192.0.2.1",
    `  IdentityFile ${home}/keys/bastion`,
    "Host inner",
    "  HostName 10.0.0.254",
    "  User jumper",
    "Host direct",
    "  ProxyJump none",
    "",
  ].join("\n"),
);
const sshConfig = loadSshConfig(configFile);
const noConfig: SshConfigLookup = () => ({ identityFiles: [] });

function node(name: string, input: NodeInput, lookup: SshConfigLookup = sshConfig) {
  return resolveNode(name, nodeSchema.parse(input), "/hive", lookup);
}

const defaultKnownHosts = [join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"];

describe("resolveSshTarget", () => {
  it("takes host, port and user from hive.ts over ~/.ssh/config", () => {
    const target = resolveSshTarget(
      node("web", {
        targetHost: "web",
        targetPort: 22,
        targetUser: "root",
        ssh: { identityFile: "keys/deploy", knownHostsFile: "known_hosts", connectTimeout: 3 },
      }),
      sshConfig,
      { home },
    );
    expect(target).toMatchObject({
      node: "web",
      // targetHost names the config alias, so its HostName applies, as with `ssh web`.
      host: "10.0.0.5",
      port: 22,
      user: "root",
      identityFiles: ["/hive/keys/deploy"],
      knownHostsFiles: ["/hive/known_hosts"],
      connectTimeoutMs: 3000,
    });
  });

  it("falls back to ~/.ssh/config for the node's alias, ProxyJump hops included", () => {
    const target = resolveSshTarget(node("web", {}), sshConfig, { home, localUser: "me", exists: () => false });
    expect(target).toEqual({
      node: "web",
      host: "10.0.0.5",
      port: 2200,
      user: "deploy",
      identityFiles: [`${home}/keys/web`, `${home}/keys/web-extra`],
      knownHostsFiles: defaultKnownHosts,
      connectTimeoutMs: 10_000,
      proxyJump: "ops@bastion:2222,inner",
      jumps: [
        {
          host: "192.0.2.1",
          port: 2222,
          user: "ops",
          identityFiles: [`${home}/keys/bastion`, `${home}/keys/web`, `${home}/keys/web-extra`],
          knownHostsFiles: defaultKnownHosts,
        },
        {
          host: "10.0.0.254",
          port: 22,
          user: "jumper",
          identityFiles: [`${home}/keys/web`, `${home}/keys/web-extra`],
          knownHostsFiles: defaultKnownHosts,
        },
      ],
    });
  });

  it("checks jump hosts against the node's known_hosts file first, then the defaults", () => {
    const target = resolveSshTarget(node("web", { ssh: { knownHostsFile: "/fleet/known_hosts" } }), sshConfig, { home, exists: () => false });
    expect(target.knownHostsFiles).toEqual(["/fleet/known_hosts"]);
    expect(target.jumps?.[0]?.knownHostsFiles).toEqual(["/fleet/known_hosts", ...defaultKnownHosts]);
  });

  it("defaults to root on port 22 with the default identity files that exist", () => {
    const existing = new Set([join(home, ".ssh", "id_ed25519"), join(home, ".ssh", "id_rsa")]);
    const target = resolveSshTarget(node("db-1", { targetHost: "10.0.0.3" }, noConfig), noConfig, { home, exists: (f) => existing.has(f) });
    expect(target).toEqual({
      node: "db-1",
      host: "10.0.0.3",
      port: 22,
      user: "root",
      identityFiles: [join(home, ".ssh", "id_ed25519"), join(home, ".ssh", "id_rsa")],
      knownHostsFiles: defaultKnownHosts,
      connectTimeoutMs: 10_000,
    });
  });

  it("treats ProxyJump none as no jump", () => {
    expect(resolveSshTarget(node("direct", {}), sshConfig, { home }).jumps).toBeUndefined();
  });
});

describe("parseProxyJump", () => {
  it("reads user@host:port lists, URIs and bracketed IPv6", () => {
    expect(parseProxyJump("a, ops@b:2222 ,ssh://u@c:23,[::1]:2022,[fe80::1],me@d")).toEqual([
      { host: "a" },
      { user: "ops", host: "b", port: 2222 },
      { user: "u", host: "c", port: 23 },
      { host: "::1", port: 2022 },
      { host: "fe80::1" },
      { user: "me", host: "d" },
    ]);
  });

  it("rejects a hop without a host", () => {
    expect(() => parseProxyJump("a,user@")).toThrow(ConfigError);
  });
});
