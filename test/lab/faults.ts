// Fault injection and inspection for lab nodes: cut the network, stop sshd, kill the service, exec.
import { rm } from "node:fs/promises";
import { LabError, nodePaths } from "./lab-layout.js";
import { writeNodeFiles } from "./node-files.js";
import type { ExecResult, Lab, LabNode } from "./lab-types.js";
import { setVethUp } from "./network.js";
import { bootNode, findNodeInit, readNodePidfile, requireNodeInit, startNodeSshd, stopNodeSshd, stopNodes, waitForSshd } from "./node-runtime.js";
import { createNodeNetwork, linkHiddenNode } from "./network.js";
import { groupPidsByNetns, killProcesses, readNetnsInode, runCommand } from "./processes.js";

function findNode(lab: Lab, name: string): LabNode {
  const node = lab.nodes.find((n) => n.name === name);
  if (!node) throw new LabError(`lab ${lab.name} has no node ${name} (it has ${lab.nodes.map((n) => n.name).join(", ")})`);
  return node;
}

/** Unplugs the node: its veth goes down on the host side, so packets to it are lost. */
export async function cutNetwork(lab: Lab, node: string): Promise<void> {
  await setVethUp(lab, findNode(lab, node), false);
}

export async function restoreNetwork(lab: Lab, node: string): Promise<void> {
  await setVethUp(lab, findNode(lab, node), true);
}

/** Stops the node's sshd (new connections are refused); the node's /nix, /run, /tmp stay. */
export async function stopSshd(lab: Lab, node: string): Promise<void> {
  await stopNodeSshd(lab, findNode(lab, node));
}

/** Starts sshd again in the same namespaces, and waits until it answers. */
export async function startSshd(lab: Lab, node: string): Promise<void> {
  await startNodeSshd(lab, findNode(lab, node));
}

/** Kills the node's hive-lab-web service (busybox httpd), as if it had crashed. */
export async function killService(lab: Lab, node: string): Promise<void> {
  const init = requireNodeInit(lab, findNode(lab, node));
  const service = readNodePidfile(init, "/run/hive-lab-web.pid");
  if (service) await killProcesses([service], "SIGKILL");
}

/** Every process of the node: those in its network namespace. */
function nodeProcesses(labNode: LabNode): number[] {
  const ino = readNetnsInode(`/run/netns/${labNode.netns}`);
  return ino === null ? [] : (groupPidsByNetns().get(ino) ?? []);
}

/**
 * Freezes the node as a hung machine would be: every process in it stopped (SIGSTOP). Its kernel
 * still accepts connections and data, but nothing on the node answers until thawNode.
 */
export async function freezeNode(lab: Lab, node: string): Promise<void> {
  const pids = nodeProcesses(findNode(lab, node));
  if (pids.length === 0) throw new LabError(`node ${node} has no processes to freeze`);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGSTOP");
    } catch {
      // gone meanwhile
    }
  }
}

export async function thawNode(lab: Lab, node: string): Promise<void> {
  for (const pid of nodeProcesses(findNode(lab, node))) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Reboots the node: ends everything in it, then boots it again. Its /nix persists, /run and
 * /tmp start empty, and the system the last `boot` or `switch` chose comes up with its service.
 */
export async function rebootNode(lab: Lab, node: string): Promise<void> {
  await restartNode(lab, findNode(lab, node), { wipe: false });
}

/**
 * Returns the node to a fresh install: stops it, empties its /nix, /home and /root, and boots it
 * again (same address and host key). Tests that need a clean node call this first.
 */
export async function resetNode(lab: Lab, node: string): Promise<void> {
  await restartNode(lab, findNode(lab, node), { wipe: true });
}

async function restartNode(lab: Lab, labNode: LabNode, options: { wipe: boolean }): Promise<void> {
  const node = labNode.name;
  await stopNodes(lab, [labNode]);
  if (options.wipe) {
    const paths = nodePaths(lab, node);
    await Promise.all([paths.nix, paths.home, paths.root, paths.log].map((dir) => rm(dir, { recursive: true, force: true })));
    await writeNodeFiles(lab, labNode);
  }
  await createNodeNetwork(lab, labNode);
  await bootNode(lab, labNode);
  await waitForSshd(lab, labNode);
  // Nodes behind this one lost their link with its netns; plug them back in.
  for (const hidden of lab.nodes.filter((n) => n.jumpHost === node)) {
    if (findNodeInit(lab, hidden)) await linkHiddenNode(lab, hidden, { configureNode: true });
  }
}

/**
 * Runs a shell command inside the node (its mount and network namespaces) as root, without ssh:
 * for reading the node's real state. Daemons started this way are not adopted by the node's init.
 * --root and --wd matter when the lab runs in a chroot: entering a mount namespace alone puts the
 * command at that namespace's real root, outside the chroot, where it would read and write the
 * host's /run and /nix instead of the node's.
 */
export async function execOnNode(lab: Lab, node: string, command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const init = requireNodeInit(lab, findNode(lab, node));
  return runCommand("nsenter", ["-t", String(init.pid), "-m", "-n", "-u", "--root", "--wd", "/bin/sh", "-c", command], {
    allowFailure: true,
    input: options.input,
    timeoutMs: options.timeoutMs ?? 60_000,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" },
  });
}
