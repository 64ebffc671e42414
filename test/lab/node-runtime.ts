// Running lab nodes: boot a node's init in fresh namespaces, find it again, stop it for good.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { LabError, labPaths, nodePaths } from "./lab-layout.js";
import type { Lab, LabNode } from "./lab-types.js";
import { deleteNodeNetworks, netnsFile } from "./network.js";
import {
  type ProcessId,
  groupPidsByNetns,
  identifyProcess,
  isProcessRunning,
  killProcesses,
  probeSsh,
  probeSshInNetns,
  readNetnsInode,
  waitFor,
} from "./processes.js";

/** Every process the lab starts for a node, as recorded in `<node dir>/pids.json`. */
export interface NodePids {
  netns: string;
  /** The node's init (node-init.pl): holds its mount namespace, reaps orphans, runs sshd. */
  init: ProcessId;
  /** The listening sshd, a child of init. */
  sshd: ProcessId | null;
}

const NODE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
const BOOT_TIMEOUT_MS = 30_000;
export const SSHD_TIMEOUT_MS = 30_000;

/** prctl's syscall number, which node-init.pl needs to become a child subreaper. */
function prctlSyscallNumber(): number {
  const numbers: Record<string, number> = { x64: 157, arm64: 167 };
  const nr = numbers[process.arch];
  if (nr === undefined) throw new LabError(`the lab does not know prctl's syscall number on ${process.arch}`);
  return nr;
}

export function readNodePids(lab: Lab, node: string): NodePids | null {
  try {
    return JSON.parse(readFileSync(nodePaths(lab, node).pids, "utf8")) as NodePids;
  } catch {
    return null;
  }
}

async function writeNodePids(lab: Lab, node: string, pids: NodePids): Promise<void> {
  await writeFile(nodePaths(lab, node).pids, JSON.stringify(pids, null, 2) + "\n");
}

function readNetnsOf(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return null;
  }
}

/** The node's init if it runs, and runs inside the node's current netns. */
export function findNodeInit(lab: Lab, node: LabNode): ProcessId | null {
  const pids = readNodePids(lab, node.name);
  if (!pids || pids.netns !== node.netns || !isProcessRunning(pids.init)) return null;
  const ino = readNetnsInode(netnsFile(node.netns));
  return ino !== null && readNetnsOf(pids.init.pid) === ino ? pids.init : null;
}

export function requireNodeInit(lab: Lab, node: LabNode): ProcessId {
  const init = findNodeInit(lab, node);
  if (!init) throw new LabError(`lab node ${node.name} (${lab.name}) is not running; run: npm run lab -- up --name ${lab.name}`);
  return init;
}

/** Reads a file as the node sees it, through its init's root. */
export function readNodeFile(init: ProcessId, file: string): string | null {
  try {
    return readFileSync(`/proc/${init.pid}/root${file}`, "utf8");
  } catch {
    return null;
  }
}

/** Pid of a node process from a pidfile in the node's /run, if that process runs. */
export function readNodePidfile(init: ProcessId, file: string): ProcessId | null {
  const pid = Number.parseInt(readNodeFile(init, file) ?? "", 10);
  return Number.isInteger(pid) && pid > 0 ? identifyProcess(pid) : null;
}

/** Whether the node's sshd answers where clients reach it: from the host, or from its jump node. */
export function probeNodeSsh(lab: Lab, node: LabNode, timeoutMs = 1000): Promise<boolean> {
  const jump = node.jumpHost ? lab.nodes.find((n) => n.name === node.jumpHost) : undefined;
  return jump ? probeSshInNetns(netnsFile(jump.netns), node.address, timeoutMs) : probeSsh(node.address, timeoutMs);
}

export function waitForSshd(lab: Lab, node: LabNode, timeoutMs = SSHD_TIMEOUT_MS): Promise<true> {
  return waitFor(`sshd of ${node.name} at ${node.address}:22`, timeoutMs, () => probeNodeSsh(lab, node, 500));
}

/**
 * Starts the node's init in a new mount namespace inside its netns. node-boot.sh mounts the
 * node's own /nix, /run, /tmp, /home, /root and /etc files, then execs node-init.pl, which
 * starts sshd and prints "ready <sshd pid>".
 */
export async function bootNode(lab: Lab, node: LabNode): Promise<NodePids> {
  const paths = nodePaths(lab, node.name);
  const shared = labPaths(lab);
  const log = openSync(paths.bootLog, "a");
  const child = spawn(
    "nsenter",
    [
      `--net=${netnsFile(node.netns)}`,
      "unshare",
      "--mount",
      "--propagation",
      "private",
      // Its own hostname, as a machine has; sessions over ssh see the node's name.
      "--uts",
      "/bin/sh",
      shared.bootScript,
      paths.dir,
      shared.etc,
      `${node.address}/16`,
      shared.initScript,
      String(prctlSyscallNumber()),
      node.name,
    ],
    { detached: true, stdio: ["ignore", "pipe", log], env: NODE_ENV },
  );
  closeSync(log);
  const sshdPid = await new Promise<number>((resolve, reject) => {
    let output = "";
    const fail = (why: string) => {
      const tail = readBootLogTail(lab, node.name);
      reject(new LabError(`lab node ${node.name} failed to boot: ${why}${tail ? `\n${tail}` : ""}`));
    };
    const timer = setTimeout(() => fail(`no "ready" within ${BOOT_TIMEOUT_MS} ms`), BOOT_TIMEOUT_MS);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /ready (\d+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(Number(ready[1]));
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(`its init exited with ${code}`);
    });
  });
  // From here on the init lives on its own; this process only has to reap it if it ends first.
  child.removeAllListeners("exit");
  child.stdout!.destroy();
  child.unref();
  const init = identifyProcess(child.pid!);
  if (!init) throw new LabError(`lab node ${node.name} failed to boot: its init died at once`);
  const pids: NodePids = { netns: node.netns, init, sshd: identifyProcess(sshdPid) };
  await writeNodePids(lab, node.name, pids);
  return pids;
}

function readBootLogTail(lab: Lab, node: string): string {
  try {
    return readFileSync(nodePaths(lab, node).bootLog, "utf8").trim().split("\n").slice(-10).join("\n");
  } catch {
    return "";
  }
}

/** Asks the node's init to start sshd (SIGUSR1) and waits until it answers. */
export async function startNodeSshd(lab: Lab, node: LabNode): Promise<void> {
  const init = requireNodeInit(lab, node);
  const pids = readNodePids(lab, node.name)!;
  if (!isProcessRunning(pids.sshd)) {
    await rm(`/proc/${init.pid}/root/run/sshd.pid`, { force: true });
    process.kill(init.pid, "SIGUSR1");
    pids.sshd = await waitFor(`sshd of ${node.name} to start`, SSHD_TIMEOUT_MS, () => readNodePidfile(init, "/run/sshd.pid") ?? undefined);
    await writeNodePids(lab, node.name, pids);
  }
  await waitForSshd(lab, node);
}

/** Stops the node's listening sshd; sessions already open go on, as with a real sshd. */
export async function stopNodeSshd(lab: Lab, node: LabNode): Promise<void> {
  const init = requireNodeInit(lab, node);
  const pids = readNodePids(lab, node.name)!;
  const running = [pids.sshd, readNodePidfile(init, "/run/sshd.pid")].filter(isProcessRunning) as ProcessId[];
  await killProcesses(running, "SIGTERM");
  await rm(`/proc/${init.pid}/root/run/sshd.pid`, { force: true });
  pids.sshd = null;
  await writeNodePids(lab, node.name, pids);
}

/** Where a node's runtime may be: its netns and veth names and its pids file. */
export interface NodeRuntime {
  name: string;
  netns: string;
  veth: string;
}

/**
 * Ends every process in the nodes' netns (all started by the lab or its ssh sessions), inits
 * last so they reap the rest, then deletes the veths and netns. Leaves the nodes' files.
 */
export async function stopNodes(lab: Lab, nodes: NodeRuntime[]): Promise<void> {
  const groups = groupPidsByNetns();
  const inits: ProcessId[] = [];
  const others: ProcessId[] = [];
  for (const node of nodes) {
    const recorded = readNodePids(lab, node.name);
    const recordedInit = recorded && isProcessRunning(recorded.init) ? recorded.init : null;
    // The netns file may be gone while its processes live on; the recorded init still finds them.
    const inodes = new Set([readNetnsInode(netnsFile(node.netns)), recordedInit && readNetnsOf(recordedInit.pid)]);
    for (const ino of inodes) {
      if (ino === null || ino === readNetnsOf(process.pid)) continue;
      for (const pid of groups.get(ino) ?? []) {
        const id = identifyProcess(pid);
        if (id) (pid === recordedInit?.pid ? inits : others).push(id);
      }
    }
    if (recordedInit && !inits.some((i) => i.pid === recordedInit.pid)) inits.push(recordedInit);
    if (recorded && isProcessRunning(recorded.sshd)) others.push(recorded.sshd!);
  }
  await killProcesses(others, "SIGKILL");
  await killProcesses(inits, "SIGKILL");
  await deleteNodeNetworks(nodes);
  await Promise.all(nodes.map((node) => rm(nodePaths(lab, node.name).pids, { force: true })));
}

/** Reads the recorded pids of all nodes, for callers that want to check they are gone. */
export async function readLabPids(lab: Lab): Promise<ProcessId[]> {
  const all = await Promise.all(
    lab.nodes.map(async (node) => {
      const text = await readFile(nodePaths(lab, node.name).pids, "utf8").catch(() => null);
      if (!text) return [];
      const pids = JSON.parse(text) as NodePids;
      return [pids.init, pids.sshd].filter((p): p is ProcessId => p !== null);
    }),
  );
  return all.flat();
}
