// Merges `defaults` into each node and resolves what depends on the node's name or environment.
import { isAbsolute, join, resolve } from "node:path";
import type { SshConfigLookup } from "./ssh-config.js";
import { type ResolvedGenerator, type VarResolver, makeVarResolver, varsDirOf } from "./generators.js";
import type { NodeKey } from "./node-key.js";
import type { ResolvedInventory } from "./inventory.js";
import { type Meta, type NodeSettings, type Service, VAR_REFERENCE } from "./schema.js";


/** A node as the rest of hive uses it: every setting resolved. */
export interface Node extends Omit<NodeSettings, "targetHost" | "targetPort" | "targetUser" | "system" | "keys" | "services"> {
  name: string;
  /** Host hive connects to: hive.ts, else ~/.ssh/config's HostName, else the node name. */
  targetHost: string;
  targetPort: number;
  targetUser: string;
  /** The name OpenSSH config lookups use for this node (hive.ts targetHost, else the node name). */
  sshAlias: string;
  /** Attribute path of the node's system in the flake. */
  system: string;
  /** Keys from hive.ts, then the secret files of the node's generators (named `generator/file`). */
  keys: Record<string, NodeKey>;
  /** hive.ts's services, each with its unit (default `<name>.service`). */
  services: Record<string, Service & { unit: string }>;
  /** Inventory roles, as `service.role`, in inventory order. */
  roles: string[];
  /** Connection settings as hive.ts wrote them (no ~/.ssh/config): what Nix sees, the same on every deployer. */
  declared: { targetHost?: string; targetPort?: number; targetUser?: string };
  /** Its hive's meta.name, else that hive.ts's path: the node records the keys it placed under it. */
  hiveName: string;
}

/** `vars` of hive.ts, resolved. */
export interface ResolvedVars {
  /** Absolute path of vars/, next to hive.ts. */
  dir: string;
  recipients: string[];
  /** Absolute path, when hive.ts names one. */
  identity?: string;
  /** In hive.ts order. */
  generators: ResolvedGenerator[];
}

export interface ResolvedMeta extends Meta {
  /** Absolute path or flake reference. */
  flake: string;
}

/** A loaded, validated, normalized hive.ts. */
export interface Hive {
  /** Absolute path of the hive.ts that was loaded. */
  file: string;
  /** Its directory. */
  dir: string;
  meta: ResolvedMeta;
  /** In hive.ts order. */
  nodes: Node[];
  /** Services' roles and their members. */
  inventory: ResolvedInventory;
  vars: ResolvedVars;
  /** Problems worth telling the operator that do not stop anything. */
  warnings: string[];
}

type Raw = Record<string, unknown>;

function isPlainObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Node values win; tags are the union; healthChecks, keys, services and ssh merge by name. */
export function mergeNodeSettings(defaults: Raw, node: Raw): Raw {
  const merged: Raw = { ...defaults, ...node };
  const d = defaults;
  if (Array.isArray(d["tags"]) && Array.isArray(node["tags"])) {
    merged["tags"] = [...new Set([...(d["tags"] as unknown[]), ...(node["tags"] as unknown[])])];
  }
  for (const byName of ["healthChecks", "keys", "services", "ssh"]) {
    if (isPlainObject(d[byName]) && isPlainObject(node[byName])) {
      merged[byName] = { ...d[byName], ...node[byName] };
    }
  }
  return merged;
}

/** The default system attribute: `nixosConfigurations.<name>.config.system.build.toplevel`. */
export function defaultSystemAttribute(name: string): string {
  const attr = /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : JSON.stringify(name);
  return `nixosConfigurations.${attr}.config.system.build.toplevel`;
}

/** Fill in what depends on the node's name, hive.ts's directory and ~/.ssh/config; roles come later, from the inventory. */
export function resolveNode(
  name: string,
  settings: NodeSettings,
  hiveDir: string,
  sshConfig: SshConfigLookup,
  resolveVar: VarResolver = makeVarResolver(varsDirOf(hiveDir), {}, undefined),
  hiveName = join(hiveDir, "hive.ts"),
): Node {
  const sshAlias = settings.targetHost ?? name;
  const fromConfig = sshConfig(sshAlias);
  const keys: Node["keys"] = {};
  for (const [keyName, { var: ref, ...key }] of Object.entries(settings.keys)) {
    const [, generator, file] = ref === undefined ? [] : (VAR_REFERENCE.exec(ref) ?? []);
    keys[keyName] = {
      ...key,
      name: key.name ?? keyName,
      ...(key.file === undefined ? {} : { file: resolve(hiveDir, key.file) }),
      ...(generator === undefined || file === undefined ? {} : { var: resolveVar(name, generator, file) }),
    };
  }
  const declared = {
    ...(settings.targetHost === undefined ? {} : { targetHost: settings.targetHost }),
    ...(settings.targetPort === undefined ? {} : { targetPort: settings.targetPort }),
    ...(settings.targetUser === undefined ? {} : { targetUser: settings.targetUser }),
  };
  return {
    ...settings,
    name,
    targetHost: settings.targetHost ?? fromConfig.hostName ?? name,
    targetPort: settings.targetPort ?? fromConfig.port ?? 22,
    targetUser: settings.targetUser ?? fromConfig.user ?? "root",
    sshAlias,
    system: settings.system ?? defaultSystemAttribute(name),
    keys,
    roles: [],
    declared,
    hiveName,
    services: Object.fromEntries(Object.entries(settings.services).map(([service, s]) => [service, { ...s, unit: s.unit ?? `${service}.service` }])),
    ssh: {
      ...settings.ssh,
      ...(settings.ssh.identityFile === undefined ? {} : { identityFile: resolve(hiveDir, settings.ssh.identityFile) }),
      ...(settings.ssh.knownHostsFile === undefined ? {} : { knownHostsFile: resolve(hiveDir, settings.ssh.knownHostsFile) }),
    },
  };
}

/** A flake given as a path is made absolute against hive.ts's directory; references (with a scheme) stay. */
export function resolveFlake(flake: string | undefined, hiveDir: string): string {
  if (flake === undefined) return hiveDir;
  if (/^[a-z][a-z0-9+.-]*:/i.test(flake) && !isAbsolute(flake)) return flake;
  return resolve(hiveDir, flake);
}
