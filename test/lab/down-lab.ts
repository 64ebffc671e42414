// Takes a lab down completely: its processes, namespaces, veths, bridge and state dir.
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { LabError, bridgeName, resolveLabDir } from "./lab-layout.js";
import { loadLab } from "./lab-state.js";
import type { Lab } from "./lab-types.js";
import { deleteBridge, listLabDevices } from "./network.js";
import { type NodeRuntime, stopNodes } from "./node-runtime.js";
import { waitFor } from "./processes.js";

/** Mount points under dir; the lab mounts only inside node namespaces, so this is a safety net. */
function findMountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(dir + "/"));
}

/**
 * Ends exactly the lab's processes (everything in its nodes' netns, plus recorded pids), deletes
 * its netns, veths and bridge, and removes its state dir. Works from lab.json and from device
 * names alike, so it also cleans up after a crashed up. A lab that is not there is fine.
 */
export async function downLab(name: string): Promise<void> {
  const dir = resolveLabDir(name);
  const lab = await loadLab(name);
  const nodes = new Map<string, NodeRuntime>();
  for (const node of lab?.nodes ?? []) nodes.set(node.netns, node);
  // Devices lab.json does not know (e.g. a crash between creating them and writing it).
  const devices = listLabDevices(name);
  for (const netns of devices.netns) {
    if (!nodes.has(netns)) nodes.set(netns, { name: `(unlisted ${netns})`, netns, veth: netns.replace(/^hl-/, "hv-") });
  }
  for (const veth of devices.veths) {
    const netns = veth.replace(/^hv-/, "hl-");
    if (!nodes.has(netns)) nodes.set(netns, { name: `(unlisted ${netns})`, netns, veth });
  }
  const owner = lab ?? ({ name, dir, nodes: [] } as unknown as Lab);
  await stopNodes(owner, [...nodes.values()]);
  await deleteBridge({ bridge: lab?.bridge ?? bridgeName(name) });
  await waitFor(`lab ${name}'s devices to disappear`, 10_000, () => {
    const left = listLabDevices(name);
    return left.netns.length === 0 && left.veths.length === 0 && !existsSync(`/sys/class/net/${bridgeName(name)}`);
  });
  const mounts = findMountsUnder(dir);
  if (mounts.length > 0) {
    throw new LabError(`not removing ${dir}: still mounted at ${mounts.join(", ")}`);
  }
  await rm(dir, { recursive: true, force: true });
}
