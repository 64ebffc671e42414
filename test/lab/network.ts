// The lab's network: one bridge on the host, and per node a netns joined to it by a veth.
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { LabError, labDevicePattern } from "./lab-layout.js";
import type { Lab, LabNode } from "./lab-types.js";
import { runCommand } from "./processes.js";

const IFF_UP = 0x1;

function runIpBatch(lines: string[], options: { force?: boolean; netns?: string } = {}) {
  const args = [...(options.netns ? ["-n", options.netns] : []), ...(options.force ? ["-force"] : []), "-batch", "-"];
  return runCommand("ip", args, { input: lines.join("\n") + "\n", allowFailure: options.force });
}

function findJumpNode(lab: Lab, node: LabNode): LabNode {
  const jump = lab.nodes.find((n) => n.name === node.jumpHost);
  if (!jump) throw new LabError(`node ${node.name} is behind ${node.jumpHost}, which is not in lab ${lab.name}`);
  return jump;
}

export function netnsFile(netns: string): string {
  return `/run/netns/${netns}`;
}

function linkExists(device: string): boolean {
  return existsSync(`/sys/class/net/${device}`);
}

/** Refuses a subnet that some other device already uses: the lab must not shadow a real network. */
export async function checkSubnetFree(lab: Pick<Lab, "subnet" | "bridge">): Promise<void> {
  const { stdout } = await runCommand("ip", ["-j", "-4", "addr", "show"]);
  const links = JSON.parse(stdout) as { ifname: string; addr_info?: { local: string }[] }[];
  for (const link of links) {
    if (link.ifname === lab.bridge) continue;
    const clash = link.addr_info?.find((a) => a.local.startsWith(`${lab.subnet}.`));
    if (clash) throw new LabError(`subnet ${lab.subnet}.0.0/16 is in use on ${link.ifname} (${clash.local}); pick another --subnet`);
  }
}

/** Creates the lab bridge with the host's address, or repairs it (idempotent). */
export async function ensureBridge(lab: Lab): Promise<void> {
  const create = linkExists(lab.bridge) ? [] : [`link add ${lab.bridge} type bridge`];
  await runIpBatch([...create, `addr replace ${lab.hostAddress}/16 dev ${lab.bridge}`, `link set ${lab.bridge} up`]);
}

/**
 * Creates the node's netns and a veth with its end (eth0) inside, the host end on the bridge;
 * for a node behind a jump host, the other end is in the jump node's netns instead.
 */
export async function createNodeNetwork(lab: Lab, node: LabNode): Promise<void> {
  if (node.jumpHost) {
    await runIpBatch([`netns add ${node.netns}`]);
    await linkHiddenNode(lab, node, { configureNode: false });
    return;
  }
  await runIpBatch([
    `netns add ${node.netns}`,
    `link add ${node.veth} type veth peer name eth0 netns ${node.netns}`,
    `link set ${node.veth} master ${lab.bridge} up`,
    // A rebooted node comes back with a new MAC; the host's old ARP entry would blackhole it for ~30 s.
    `neigh flush to ${node.address} dev ${lab.bridge}`,
  ]);
}

/**
 * Joins a node to its jump node: a veth from the jump node's netns to eth0 in the node's, and a
 * host route there. The node keeps its /16, so it reaches the jump node (which answers ARP for
 * its own address on any link) but nothing else; the host reaches it only through the jump node.
 */
export async function linkHiddenNode(lab: Lab, node: LabNode, options: { configureNode: boolean }): Promise<void> {
  const jump = findJumpNode(lab, node);
  await runIpBatch([`link add ${node.veth} netns ${jump.netns} type veth peer name eth0 netns ${node.netns}`]);
  if (options.configureNode) {
    await runIpBatch([`addr add ${node.address}/16 dev eth0`, "link set eth0 up"], { netns: node.netns });
  }
  await setVethUp(lab, node, true);
}

/** State of the link that carries a node's traffic (its veth on the host, or in its jump node). */
export async function checkNodeLink(lab: Lab, node: LabNode): Promise<"ok" | "down" | "missing"> {
  if (!node.jumpHost) {
    if (!linkExists(node.veth)) return "missing";
    try {
      const flags = Number.parseInt(readFileSync(`/sys/class/net/${node.veth}/flags`, "utf8"), 16);
      const master = path.basename(readlinkSync(`/sys/class/net/${node.veth}/master`));
      return (flags & IFF_UP) !== 0 && master === lab.bridge ? "ok" : "down";
    } catch {
      return "down";
    }
  }
  const jump = findJumpNode(lab, node);
  const link = await runCommand("ip", ["-n", jump.netns, "-o", "link", "show", "dev", node.veth], { allowFailure: true });
  if (link.exitCode !== 0) return "missing";
  const route = await runCommand("ip", ["-n", jump.netns, "-o", "route", "show", `${node.address}/32`], { allowFailure: true });
  return /[<,]UP[,>]/.test(link.stdout) && route.stdout.includes(`dev ${node.veth}`) ? "ok" : "down";
}

/** Plugs or unplugs a node's link; for a node behind a jump host, in the jump node's netns. */
export async function setVethUp(lab: Lab, node: LabNode, up: boolean): Promise<void> {
  if (node.jumpHost) {
    const netns = findJumpNode(lab, node).netns;
    // Taking a link down drops its routes, so up puts the route back.
    const lines = up ? [`link set ${node.veth} up`, `route replace ${node.address}/32 dev ${node.veth}`] : [`link set ${node.veth} down`];
    await runIpBatch(lines, { netns });
    return;
  }
  await runIpBatch(up ? [`link set ${node.veth} master ${lab.bridge} up`] : [`link set ${node.veth} down`]);
}

/** Deletes veths and netns that exist; deleting the host end of a veth removes both ends at once. */
export async function deleteNodeNetworks(nodes: Pick<LabNode, "netns" | "veth">[]): Promise<void> {
  const lines = [
    ...nodes.filter((n) => linkExists(n.veth)).map((n) => `link del ${n.veth}`),
    ...nodes.filter((n) => existsSync(netnsFile(n.netns))).map((n) => `netns del ${n.netns}`),
  ];
  if (lines.length > 0) await runIpBatch(lines, { force: true });
}

export async function deleteBridge(lab: Pick<Lab, "bridge">): Promise<void> {
  if (linkExists(lab.bridge)) await runIpBatch([`link del ${lab.bridge}`], { force: true });
}

/** A /16 subnet (two octets) under 10. that no device uses, for labs that need one of their own. */
export async function findFreeSubnet(first = 81): Promise<string> {
  const { stdout } = await runCommand("ip", ["-j", "-4", "addr", "show"]);
  const used = new Set(
    (JSON.parse(stdout) as { addr_info?: { local: string }[] }[]).flatMap((l) => (l.addr_info ?? []).map((a) => a.local.split(".").slice(0, 2).join("."))),
  );
  for (let octet = first; octet < 255; octet++) {
    if (!used.has(`10.${octet}`)) return `10.${octet}`;
  }
  throw new LabError("no free 10.x.0.0/16 subnet for a lab");
}

/** Netns and veth names of a lab that exist now, including any lab.json no longer lists. */
export function listLabDevices(name: string): { netns: string[]; veths: string[] } {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return {
    netns: list("/run/netns").filter((n) => labDevicePattern(name, "hl").test(n)),
    veths: list("/sys/class/net").filter((n) => labDevicePattern(name, "hv").test(n)),
  };
}
