// Brings a lab up, or repairs it: idempotent, so a second up (or one after a reboot) heals it.
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import pLimit from "p-limit";
import { describeLab, nodePaths } from "./lab-layout.js";
import { loadLab, saveLab } from "./lab-state.js";
import type { Lab, LabNode, UpLabOptions } from "./lab-types.js";
import { checkNodeLink, checkSubnetFree, createNodeNetwork, ensureBridge, linkHiddenNode, netnsFile, setVethUp } from "./network.js";
import { writeClientFiles, writeLabFiles, writeNodeFiles } from "./node-files.js";
import { bootNode, findNodeInit, readNodePids, startNodeSshd, stopNodeSshd, stopNodes, waitForSshd } from "./node-runtime.js";
import { isProcessRunning } from "./processes.js";
import { downLab } from "./down-lab.js";

const DEFAULT_CONCURRENCY = 8;

function isSameNode(a: LabNode, b: LabNode): boolean {
  return a.name === b.name && a.address === b.address && a.netns === b.netns && a.veth === b.veth;
}

/** Brings one node to health, doing only what is missing: a running node is left running. */
async function ensureNode(lab: Lab, node: LabNode): Promise<void> {
  const configChanged = await writeNodeFiles(lab, node);
  const link = findNodeInit(lab, node) ? await checkNodeLink(lab, node) : "missing";
  // A hidden node loses its link when its jump node reboots, but keeps running.
  if (link === "missing" && node.jumpHost && findNodeInit(lab, node)) {
    await linkHiddenNode(lab, node, { configureNode: true });
  } else if (link === "down") {
    await setVethUp(lab, node, true);
  }
  if (findNodeInit(lab, node) && (await checkNodeLink(lab, node)) === "ok") {
    if (configChanged) await stopNodeSshd(lab, node);
    if (!isProcessRunning(readNodePids(lab, node.name)?.sshd)) await startNodeSshd(lab, node);
    await waitForSshd(lab, node);
    return;
  }
  // Whatever is left of an earlier run (after a crash or reboot) goes; the node's files stay,
  // so this is a reboot: its store and boot system survive.
  const leftovers = readNodePids(lab, node.name) || existsSync(netnsFile(node.netns)) || existsSync(`/sys/class/net/${node.veth}`);
  if (leftovers) await stopNodes(lab, [node]);
  await createNodeNetwork(lab, node);
  await bootNode(lab, node);
  await waitForSshd(lab, node);
}

/**
 * Brings up lab `name` with its nodes, each a netns + mount namespace with its own sshd, /nix,
 * /run and /tmp. Running it again yields the same healthy lab; a changed subnet starts afresh.
 */
export async function upLab(options: UpLabOptions): Promise<Lab> {
  const lab = describeLab(options);
  // Before anything is written, so a refused lab leaves no state behind.
  await checkSubnetFree(lab);
  const previous = await loadLab(lab.name);
  if (previous && previous.subnet !== lab.subnet) await downLab(lab.name);
  const dropped = previous && previous.subnet === lab.subnet
    ? previous.nodes.filter((old) => !lab.nodes.some((node) => isSameNode(node, old)))
    : [];
  await mkdir(lab.dir, { recursive: true, mode: 0o755 });
  // Written first, so a down after a failed up still knows every node.
  await saveLab({ ...lab, nodes: [...lab.nodes, ...dropped.filter((d) => !lab.nodes.some((n) => n.name === d.name))] });
  if (dropped.length > 0) {
    await stopNodes(previous!, dropped);
    const kept = new Set(lab.nodes.map((n) => n.name));
    await Promise.all(dropped.filter((d) => !kept.has(d.name)).map((d) => rm(nodePaths(lab, d.name).dir, { recursive: true, force: true })));
  }
  await writeLabFiles(lab);
  await ensureBridge(lab);
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
  // Jump nodes first: a hidden node's link starts in its jump node's netns.
  await Promise.all(lab.nodes.filter((n) => !n.jumpHost).map((node) => limit(() => ensureNode(lab, node))));
  await Promise.all(lab.nodes.filter((n) => n.jumpHost).map((node) => limit(() => ensureNode(lab, node))));
  await writeClientFiles(lab);
  await saveLab(lab);
  return lab;
}
