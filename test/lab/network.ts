// The lab's network: one bridge on the host, and per node a netns joined to it by a veth.
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { LabError, labDevicePattern } from "./lab-layout.js";
import type { Lab, LabNode } from "./lab-types.js";
import { runCommand } from "./processes.js";

const IFF_UP = 0x1;

function runIpBatch(lines: string[], options: { force?: boolean } = {}) {
  const args = options.force ? ["-force", "-batch", "-"] : ["-batch", "-"];
  return runCommand("ip", args, { input: lines.join("\n") + "\n", allowFailure: options.force });
}

export function netnsFile(netns: string): string {
  return `/run/netns/${netns}`;
}

function linkExists(device: string): boolean {
  return existsSync(`/sys/class/net/${device}`);
}

/** Refuses a subnet that some other device already uses: the lab must not shadow a real network. */
async function checkSubnetFree(lab: Lab): Promise<void> {
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
  await checkSubnetFree(lab);
  const create = linkExists(lab.bridge) ? [] : [`link add ${lab.bridge} type bridge`];
  await runIpBatch([...create, `addr replace ${lab.hostAddress}/16 dev ${lab.bridge}`, `link set ${lab.bridge} up`]);
}

/** Creates the node's netns and a veth with its end (eth0) inside, the host end on the bridge. */
export async function createNodeNetwork(lab: Lab, node: LabNode): Promise<void> {
  await runIpBatch([
    `netns add ${node.netns}`,
    `link add ${node.veth} type veth peer name eth0 netns ${node.netns}`,
    `link set ${node.veth} master ${lab.bridge} up`,
    // A rebooted node comes back with a new MAC; the host's old ARP entry would blackhole it for ~30 s.
    `neigh flush to ${node.address} dev ${lab.bridge}`,
  ]);
}

/** True when the host end of the node's veth is up and on the lab bridge. */
export function isVethHealthy(lab: Lab, node: LabNode): boolean {
  try {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${node.veth}/flags`, "utf8"), 16);
    const master = path.basename(readlinkSync(`/sys/class/net/${node.veth}/master`));
    return (flags & IFF_UP) !== 0 && master === lab.bridge;
  } catch {
    return false;
  }
}

export async function setVethUp(lab: Lab, node: LabNode, up: boolean): Promise<void> {
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

/** Netns and veth names of a lab that exist now, including any lab.json no longer lists. */
export function listLabDevices(name: string): { netns: string[]; veths: string[] } {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return {
    netns: list("/run/netns").filter((n) => labDevicePattern(name, "hl").test(n)),
    veths: list("/sys/class/net").filter((n) => labDevicePattern(name, "hv").test(n)),
  };
}
