// What a lab's nodes are doing: init, sshd and service liveness, and the active system.
import { readlinkSync } from "node:fs";
import { LabError } from "./lab-layout.js";
import type { Lab, LabNode, LabNodeStatus, LabStatus } from "./lab-types.js";
import { findNodeInit, probeNodeSsh, readNodePidfile } from "./node-runtime.js";
import { loadLab } from "./lab-state.js";

function readCurrentSystem(initPid: number): string | null {
  try {
    return readlinkSync(`/proc/${initPid}/root/run/current-system`);
  } catch {
    return null;
  }
}

async function inspectNode(lab: Lab, node: LabNode): Promise<LabNodeStatus> {
  const init = findNodeInit(lab, node);
  return {
    name: node.name,
    address: node.address,
    netns: node.netns,
    initAlive: init !== null,
    sshdAlive: init !== null && (await probeNodeSsh(lab, node, 1000)),
    serviceAlive: init !== null && readNodePidfile(init, "/run/hive-lab-web.pid") !== null,
    currentSystem: init ? readCurrentSystem(init.pid) : null,
  };
}

export async function labStatus(name: string): Promise<LabStatus> {
  const lab = await loadLab(name);
  if (!lab) throw new LabError(`no lab named ${name}; bring it up with: npm run lab -- up --name ${name}`);
  const nodes = await Promise.all(lab.nodes.map((node) => inspectNode(lab, node)));
  return { name: lab.name, subnet: lab.subnet, dir: lab.dir, nodes };
}

/** One line per node, for the CLI. */
export function formatLabStatus(status: LabStatus): string {
  const yesNo = (ok: boolean) => (ok ? "up" : "DOWN");
  const rows = status.nodes.map((n) => [
    n.name,
    n.address,
    `sshd ${yesNo(n.sshdAlive)}`,
    `service ${yesNo(n.serviceAlive)}`,
    n.initAlive ? (n.currentSystem ?? "(no system)") : "(node not running)",
  ]);
  const widths = rows.reduce((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), [] as number[]);
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd());
  const healthy = status.nodes.filter((n) => n.sshdAlive).length;
  return [`lab ${status.name} (${status.subnet}.0.0/16, ${status.dir}): ${healthy}/${status.nodes.length} nodes answer ssh`, ...lines].join("\n");
}
