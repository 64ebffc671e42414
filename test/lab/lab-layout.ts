// Pure layout of a lab: validation, state paths, device names and the address scheme.
import path from "node:path";
import type { Lab, LabNode, UpLabOptions } from "./lab-types.js";

const LAB_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
const SUBNET = /^(\d{1,3})\.(\d{1,3})$/;
const MAX_IFNAME = 15;
const NODES_PER_OCTET = 250;
export const MAX_NODES = NODES_PER_OCTET * 200;

/** Thrown for bad lab requests, so the CLI can print them without a stack. */
export class LabError extends Error {
  override name = "LabError";
}

/** The lab root; node namespaces hide /nix, /run, /tmp, /home and /root, so it may not live there. */
export function resolveLabRoot(env: NodeJS.ProcessEnv = process.env): string {
  const root = path.resolve(env.HIVE_LAB_ROOT || "/var/lib/hive-lab");
  for (const hidden of ["/nix", "/run", "/tmp", "/home", "/root"]) {
    if (root === hidden || root.startsWith(hidden + "/")) {
      throw new LabError(`HIVE_LAB_ROOT=${root} is under ${hidden}, which lab nodes replace; pick another dir`);
    }
  }
  return root;
}

export function resolveLabDir(name: string, root = resolveLabRoot()): string {
  checkLabName(name);
  return path.join(root, name);
}

/** The demo lab keeps 10.78 (hive.ts hard-codes its addresses); other labs default to 10.77. */
export function defaultSubnet(name: string): string {
  return name === "demo" ? "10.78" : "10.77";
}

export function checkLabName(name: string): void {
  if (!LAB_NAME.test(name) || name.length > 8) {
    throw new LabError(`bad lab name "${name}": use up to 8 of a-z, 0-9 and inner dashes, starting with a letter`);
  }
}

export function checkSubnet(subnet: string): void {
  const match = SUBNET.exec(subnet);
  const octets = match ? [Number(match[1]), Number(match[2])] : [];
  if (!match || octets.some((o) => o > 255) || octets[0] === 0 || octets[0] === 127) {
    throw new LabError(`bad subnet "${subnet}": give the first two octets, e.g. 10.77`);
  }
}

/** Node i (0-based) gets `<subnet>.<floor(i/250)+1>.<(i%250)+1>`; demo's 4 nodes are 10.78.1.1..4. */
export function nodeAddress(subnet: string, index: number): string {
  return `${subnet}.${Math.floor(index / NODES_PER_OCTET) + 1}.${(index % NODES_PER_OCTET) + 1}`;
}

export function hostAddress(subnet: string): string {
  return `${subnet}.0.1`;
}

export function bridgeName(lab: string): string {
  return `hb-${lab}`;
}

export function netnsName(lab: string, index: number): string {
  return `hl-${lab}-${index + 1}`;
}

export function vethName(lab: string, index: number): string {
  return `hv-${lab}-${index + 1}`;
}

/** Matches this lab's netns and veth names, to find leftovers that lab.json may not list. */
export function labDevicePattern(lab: string, prefix: "hl" | "hv"): RegExp {
  return new RegExp(`^${prefix}-${lab.replace(/-/g, "\\-")}-\\d+$`);
}

export function resolveNodeNames(nodes: string[] | number): string[] {
  const names = typeof nodes === "number" ? Array.from({ length: nodes }, (_, i) => `node-${i + 1}`) : nodes;
  if (names.length === 0) throw new LabError("a lab needs at least one node");
  if (names.length > MAX_NODES) throw new LabError(`a lab has at most ${MAX_NODES} nodes`);
  const seen = new Set<string>();
  for (const name of names) {
    if (!NODE_NAME.test(name)) throw new LabError(`bad node name "${name}"`);
    if (seen.has(name)) throw new LabError(`node "${name}" is listed twice`);
    seen.add(name);
  }
  return names;
}

/** Everything about a lab that follows from its name, subnet and node names. */
export function describeLab(options: UpLabOptions, root = resolveLabRoot()): Lab {
  const { name, subnet } = options;
  checkLabName(name);
  checkSubnet(subnet);
  const names = resolveNodeNames(options.nodes);
  const dir = resolveLabDir(name, root);
  const jumpHosts = options.jumpHosts ?? {};
  for (const [hidden, jump] of Object.entries(jumpHosts)) {
    if (!names.includes(hidden)) throw new LabError(`jump host given for unknown node "${hidden}"`);
    if (!names.includes(jump)) throw new LabError(`node "${hidden}" is behind unknown node "${jump}"`);
    if (jumpHosts[jump]) throw new LabError(`node "${hidden}" is behind "${jump}", which is itself behind a jump host; chains are not supported`);
  }
  const nodes: LabNode[] = names.map((nodeName, i) => ({
    name: nodeName,
    address: nodeAddress(subnet, i),
    netns: netnsName(name, i),
    veth: vethName(name, i),
    ...(jumpHosts[nodeName] ? { jumpHost: jumpHosts[nodeName] } : {}),
  }));
  const longest = [bridgeName(name), ...nodes.map((n) => n.veth)].find((d) => d.length > MAX_IFNAME);
  if (longest) throw new LabError(`device name ${longest} is over ${MAX_IFNAME} characters: use a shorter lab name`);
  return {
    name,
    dir,
    subnet,
    hostAddress: hostAddress(subnet),
    bridge: bridgeName(name),
    identityFile: path.join(dir, "client", "id_ed25519"),
    knownHostsFile: path.join(dir, "client", "known_hosts"),
    sshConfigFile: path.join(dir, "client", "ssh_config"),
    nodes,
  };
}

/** Files of one node under the lab dir. */
export function nodePaths(lab: Lab, node: string) {
  const dir = path.join(lab.dir, "nodes", node);
  return {
    dir,
    nix: path.join(dir, "nix"),
    home: path.join(dir, "home"),
    root: path.join(dir, "root"),
    log: path.join(dir, "log"),
    hostKey: path.join(dir, "ssh_host_ed25519_key"),
    sshdConfig: path.join(dir, "sshd_config"),
    sshdLog: path.join(dir, "sshd.log"),
    bootLog: path.join(dir, "boot.log"),
    pids: path.join(dir, "pids.json"),
  };
}

/** Files shared by all nodes of a lab. */
export function labPaths(lab: Pick<Lab, "dir">) {
  return {
    json: path.join(lab.dir, "lab.json"),
    etc: path.join(lab.dir, "etc"),
    // Outside client/ (mode 0700): sshd reads it as the user logging in, e.g. deploy.
    authorizedKeys: path.join(lab.dir, "authorized_keys"),
    bootScript: path.join(lab.dir, "node-boot.sh"),
    initScript: path.join(lab.dir, "node-init.pl"),
  };
}
