// End-to-end checks of the lab itself: ssh, private namespaces, Nix deploys, knobs, faults, down.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  buildLabSystem,
  cutNetwork,
  downLab,
  execOnNode,
  findFreeSubnet,
  isProcessRunning,
  killService,
  labNixEnv,
  labSshOptions,
  labStatus,
  makeLabFlake,
  nodeAddress,
  readLabPids,
  readNodePids,
  rebootNode,
  resetNode,
  restoreNetwork,
  setNodeKnobs,
  startSshd,
  stopSshd,
  upLab,
  type ExecResult,
  type Lab,
} from "../lab/lab.js";
import { acquireLabLock } from "../lab/lab-lock.js";
import { runCommand } from "../lab/processes.js";
import { useLab } from "../lab/use-lab.js";

const getLab = useLab();
let flakeDir = "";

function addressOf(lab: Lab, node: string): string {
  const found = lab.nodes.find((n) => n.name === node);
  if (!found) throw new Error(`no node ${node}`);
  return found.address;
}

/** Real ssh with strict host key checking, as a user would run it. */
function ssh(lab: Lab, user: string, node: string, command: string, extra: string[] = []): Promise<ExecResult> {
  // ssh keeps the first value of an option, so extra options go before the lab's defaults.
  return runCommand("ssh", [...extra, ...labSshOptions(lab), `${user}@${addressOf(lab, node)}`, command], { allowFailure: true, timeoutMs: 60_000 });
}

async function fetchText(url: string): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: response.status, body: (await response.text()).trim() };
  } catch (error) {
    return { error: String(error) };
  }
}

function storeUrl(lab: Lab, user: "root" | "deploy", node: string): string {
  const address = addressOf(lab, node);
  return user === "root" ? `ssh://root@${address}` : `ssh://deploy@${address}?remote-program=sudo -H -- nix-store`;
}

async function copyToNode(lab: Lab, user: "root" | "deploy", node: string, storePath: string): Promise<void> {
  await runCommand("nix", ["copy", "--to", storeUrl(lab, user, node), storePath], { env: labNixEnv(lab), timeoutMs: 120_000 });
}

/** Builds the node's system, copies it, sets the system profile and runs switch-to-configuration. */
async function deploy(lab: Lab, node: string, options: { user?: "root" | "deploy"; goal?: string } = {}) {
  const user = options.user ?? "root";
  const system = await buildLabSystem(flakeDir, node);
  await copyToNode(lab, user, node, system);
  const sudo = user === "root" ? "" : "sudo ";
  const result = await ssh(
    lab,
    user,
    node,
    `${sudo}nix-env -p /nix/var/nix/profiles/system --set ${system} && ${sudo}${system}/bin/switch-to-configuration ${options.goal ?? "switch"}`,
  );
  return { system, result };
}

async function readLink(lab: Lab, node: string, link: string): Promise<string> {
  return (await execOnNode(lab, node, `readlink -f ${link} || true`)).stdout.trim();
}

beforeAll(async () => {
  flakeDir = await mkdtemp(path.join(os.tmpdir(), "hive-lab-flake-"));
  await makeLabFlake(flakeDir, { version: "1", nodes: Object.fromEntries(["t1", "t2", "t3", "t4", "t5", "t6"].map((n) => [n, {}])) });
});

afterAll(async () => {
  if (flakeDir) await rm(flakeDir, { recursive: true, force: true });
  // Later test files get the shared lab's nodes as fresh installs, not with our systems and knobs.
  const lab = inject("lab");
  if (lab) await Promise.all(lab.nodes.map((node) => resetNode(lab, node.name)));
});

describe("lab layout", () => {
  it("numbers nodes as hive.ts expects", () => {
    expect([0, 1, 2, 3].map((i) => nodeAddress("10.78", i))).toEqual(["10.78.1.1", "10.78.1.2", "10.78.1.3", "10.78.1.4"]);
    expect(nodeAddress("10.77", 249)).toBe("10.77.1.250");
    expect(nodeAddress("10.77", 250)).toBe("10.77.2.1");
  });
});

describe("lab ssh", () => {
  it("accepts strict-host-key ssh on every node as root and as deploy (with password-less sudo)", async () => {
    const lab = getLab();
    await Promise.all(
      lab.nodes.map(async (node) => {
        const root = await ssh(lab, "root", node.name, "id -u; hostname");
        expect(root, `root@${node.name}: ${root.stderr}`).toMatchObject({ exitCode: 0, stdout: `0\n${node.name}\n` });
        const deployUser = await ssh(lab, "deploy", node.name, "id -un; sudo -n id -u; test -d $HOME && echo home");
        expect(deployUser.stdout, `deploy@${node.name}: ${deployUser.stderr}`).toBe("deploy\n0\nhome\n");
      }),
    );
  });

  it("rejects a host key it does not know", async () => {
    const lab = getLab();
    const result = await runCommand(
      "ssh",
      ["-i", lab.identityFile, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", `root@${addressOf(lab, "t1")}`, "true"],
      { allowFailure: true },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Host key verification failed/);
  });
});

describe("lab node isolation", () => {
  it("gives each node its own /nix, /run and /tmp", async () => {
    const lab = getLab();
    const system = await buildLabSystem(flakeDir, "t1");
    await copyToNode(lab, "root", "t1", system);
    const marker = `marker-${Date.now()}`;
    expect((await ssh(lab, "root", "t1", `touch /tmp/${marker} /run/${marker}`)).exitCode).toBe(0);

    const onT1 = await execOnNode(lab, "t1", `test -e ${system} && test -e /tmp/${marker} && test -e /run/${marker} && echo yes`);
    expect(onT1.stdout.trim()).toBe("yes");
    for (const probe of [system, `/tmp/${marker}`, `/run/${marker}`]) {
      expect((await execOnNode(lab, "t2", `test -e ${probe}`)).exitCode, `${probe} leaked to t2`).toBe(1);
      expect(existsSync(`/tmp/${marker}`) || existsSync(`/run/${marker}`), `${probe} leaked to the host`).toBe(false);
    }
  });
});

describe("lab deploys", () => {
  it("serves a system deployed as root with nix copy, nix-env --set and switch", async () => {
    const lab = getLab();
    const { system, result } = await deploy(lab, "t1");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await fetchText(`http://${addressOf(lab, "t1")}/`)).toEqual({ status: 200, body: "t1 1" });
    expect(await fetchText(`http://${addressOf(lab, "t1")}/health`)).toEqual({ status: 200, body: "ok" });
    expect(await readLink(lab, "t1", "/nix/var/nix/profiles/system")).toBe(system);
    expect(await readLink(lab, "t1", "/run/current-system")).toBe(system);
    expect(await readLink(lab, "t1", "/nix/var/nix/lab-boot-system")).toBe(system);
    expect((await labStatus(lab.name)).nodes.find((n) => n.name === "t1")).toMatchObject({ sshdAlive: true, serviceAlive: true, currentSystem: system });
  });

  it("deploys as the deploy user through sudo (remote-program=sudo -H -- nix-store)", async () => {
    const lab = getLab();
    const { system, result } = await deploy(lab, "t2", { user: "deploy" });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await fetchText(`http://${addressOf(lab, "t2")}/`)).toEqual({ status: 200, body: "t2 1" });
    expect(await readLink(lab, "t2", "/nix/var/nix/profiles/system")).toBe(system);
  });

  it("implements boot, dry-activate and rejects unknown goals", async () => {
    const lab = getLab();
    await setNodeKnobs(flakeDir, "t1", { version: "1b" });
    const next = await buildLabSystem(flakeDir, "t1");
    await copyToNode(lab, "root", "t1", next);
    const before = await readLink(lab, "t1", "/run/current-system");

    const dry = await ssh(lab, "root", "t1", `${next}/bin/switch-to-configuration dry-activate`);
    expect(dry).toMatchObject({ exitCode: 0, stdout: expect.stringContaining("would restart the following units: hive-lab-web.service") });
    const boot = await ssh(lab, "root", "t1", `${next}/bin/switch-to-configuration boot`);
    expect(boot.exitCode, boot.stderr).toBe(0);
    expect(await readLink(lab, "t1", "/nix/var/nix/lab-boot-system")).toBe(next);
    expect(await readLink(lab, "t1", "/run/current-system")).toBe(before);
    expect(await fetchText(`http://${addressOf(lab, "t1")}/`)).toEqual({ status: 200, body: "t1 1" });

    const unknown = await ssh(lab, "root", "t1", `${next}/bin/switch-to-configuration reboot-now`);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/usage: switch-to-configuration/);
    await setNodeKnobs(flakeDir, "t1", {});
  });
});

describe("lab system knobs", () => {
  it("failActivation exits non-zero and leaves the running service alone", async () => {
    const lab = getLab();
    expect((await deploy(lab, "t3")).result.exitCode).toBe(0);
    const before = await readLink(lab, "t3", "/run/current-system");
    await setNodeKnobs(flakeDir, "t3", { version: "2", failActivation: true });
    const { result } = await deploy(lab, "t3");
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/activation of t3 2 failed/);
    expect(await readLink(lab, "t3", "/run/current-system")).toBe(before);
    expect(await fetchText(`http://${addressOf(lab, "t3")}/`)).toEqual({ status: 200, body: "t3 1" });
  });

  it("unitsFailed activates, then exits 4 with the failed units line", async () => {
    const lab = getLab();
    await setNodeKnobs(flakeDir, "t4", { version: "3", unitsFailed: true });
    const { system, result } = await deploy(lab, "t4");
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain("warning: the following units failed: hive-lab-web.service");
    expect(await readLink(lab, "t4", "/run/current-system")).toBe(system);
    expect(await fetchText(`http://${addressOf(lab, "t4")}/`)).toEqual({ status: 200, body: "t4 3" });
  });

  it("unhealthy serves / but not /health", async () => {
    const lab = getLab();
    await setNodeKnobs(flakeDir, "t5", { unhealthy: true });
    expect((await deploy(lab, "t5")).result.exitCode).toBe(0);
    expect(await fetchText(`http://${addressOf(lab, "t5")}/`)).toEqual({ status: 200, body: "t5 1" });
    expect(await fetchText(`http://${addressOf(lab, "t5")}/health`)).toMatchObject({ status: 404 });
  });

  it("activationSleep delays the activation", async () => {
    const lab = getLab();
    await setNodeKnobs(flakeDir, "t6", { activationSleep: 2 });
    const system = await buildLabSystem(flakeDir, "t6");
    await copyToNode(lab, "root", "t6", system);
    const started = performance.now();
    const result = await ssh(lab, "root", "t6", `${system}/bin/switch-to-configuration test`);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000);
    await setNodeKnobs(flakeDir, "t6", {});
  });

  it("payloadKiB makes the closure bigger", async () => {
    const plain = await buildLabSystem(flakeDir, "t6");
    await setNodeKnobs(flakeDir, "t6", { payloadKiB: 512 });
    const heavy = await buildLabSystem(flakeDir, "t6");
    await setNodeKnobs(flakeDir, "t6", {});
    const sizeOf = async (storePath: string) => {
      const { stdout } = await runCommand("nix", ["path-info", "-S", storePath], { env: labNixEnv() });
      return Number(stdout.trim().split(/\s+/).at(-1));
    };
    expect((await sizeOf(heavy)) - (await sizeOf(plain))).toBeGreaterThanOrEqual(512 * 1024);
  });
});

describe("lab faults", () => {
  it("cutNetwork makes the node unreachable until restoreNetwork", async () => {
    const lab = getLab();
    await cutNetwork(lab, "t1");
    try {
      const cut = await ssh(lab, "root", "t1", "true", ["-o", "ConnectTimeout=2"]);
      expect(cut.exitCode).toBe(255);
      expect(await fetchText(`http://${addressOf(lab, "t1")}/`)).toHaveProperty("error");
    } finally {
      await restoreNetwork(lab, "t1");
    }
    expect((await ssh(lab, "root", "t1", "true")).exitCode).toBe(0);
  });

  it("stopSshd refuses connections; startSshd brings it back with the node's state intact", async () => {
    const lab = getLab();
    expect((await ssh(lab, "root", "t2", "echo kept > /tmp/kept")).exitCode).toBe(0);
    await stopSshd(lab, "t2");
    const stopped = await ssh(lab, "root", "t2", "true");
    expect(stopped.exitCode).toBe(255);
    expect(stopped.stderr).toMatch(/Connection refused/);
    await startSshd(lab, "t2");
    const back = await ssh(lab, "root", "t2", "cat /tmp/kept; readlink /run/current-system; ls /nix/store | grep -c nixos-system");
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/^kept\n\/nix\/store\/\S+-nixos-system-t2-1\n[1-9]/);
    expect(await fetchText(`http://${addressOf(lab, "t2")}/`)).toEqual({ status: 200, body: "t2 1" });
  });

  it("killService stops the node's HTTP service", async () => {
    const lab = getLab();
    expect(await fetchText(`http://${addressOf(lab, "t5")}/`)).toMatchObject({ status: 200 });
    await killService(lab, "t5");
    expect(await fetchText(`http://${addressOf(lab, "t5")}/`)).toHaveProperty("error");
    expect((await labStatus(lab.name)).nodes.find((n) => n.name === "t5")?.serviceAlive).toBe(false);
  });

  it("rebootNode keeps /nix, clears /run and /tmp, and boots the boot system", async () => {
    const lab = getLab();
    const bootSystem = await readLink(lab, "t1", "/nix/var/nix/lab-boot-system");
    await ssh(lab, "root", "t1", "touch /tmp/gone");
    await rebootNode(lab, "t1");
    expect(await readLink(lab, "t1", "/run/booted-system")).toBe(bootSystem);
    expect(await readLink(lab, "t1", "/run/current-system")).toBe(bootSystem);
    expect((await execOnNode(lab, "t1", "test -e /tmp/gone")).exitCode).toBe(1);
    // The boot system is t1's "1b" from the boot-goal test.
    expect(await fetchText(`http://${addressOf(lab, "t1")}/`)).toEqual({ status: 200, body: "t1 1b" });
  });
});

describe("lab lifecycle", () => {
  it("up is idempotent and repairs a crashed node", async () => {
    const lab = getLab();
    const options = { name: lab.name, subnet: lab.subnet, nodes: lab.nodes.map((n) => n.name) };
    const pidsBefore = await readLabPids(lab);
    expect(await upLab(options)).toEqual(lab);
    expect(await readLabPids(lab)).toEqual(pidsBefore);

    // A crash: t6's init dies with no cleanup; its sshd lives on as an orphan.
    const t6Init = readNodePids(lab, "t6")!.init;
    process.kill(t6Init.pid, "SIGKILL");
    await expect.poll(() => isProcessRunning(t6Init)).toBe(false);
    expect(await upLab(options)).toEqual(lab);
    expect((await ssh(lab, "root", "t6", "true")).exitCode).toBe(0);
    const pidsAfter = await readLabPids(lab);
    expect(pidsAfter.filter((p) => !pidsBefore.some((b) => b.pid === p.pid))).toHaveLength(2);
    expect(pidsBefore.filter((p) => !pidsAfter.some((a) => a.pid === p.pid)).some(isProcessRunning)).toBe(false);
  });

  it("resetNode returns a node to a fresh install", async () => {
    const lab = getLab();
    expect((await execOnNode(lab, "t3", "ls /nix/store | grep -c nixos-system")).stdout.trim()).not.toBe("0");
    await resetNode(lab, "t3");
    expect((await execOnNode(lab, "t3", "ls -A /nix/store; ls -A /run/current-system /nix/var/nix/profiles 2>&1")).stdout).not.toMatch(/nixos-system|system-\d+-link/);
    expect(await fetchText(`http://${addressOf(lab, "t3")}/`)).toHaveProperty("error");
    expect((await ssh(lab, "deploy", "t3", "sudo -n true")).exitCode).toBe(0);
  });

  it("hides a node behind a jump node (ssh -J), also across the jump node's reboot", async () => {
    // Runs with other HIVE_E2E_LAB names may be here too; the extra labs' names are shared.
    const release = await acquireLabLock("jump");
    const lab = await upLab({ name: "jump", subnet: await findFreeSubnet(), nodes: ["gate", "inner"], jumpHosts: { inner: "gate" } });
    try {
      const viaConfig = (node: string) =>
        runCommand("ssh", ["-F", lab.sshConfigFile, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", `root@${node}`, "echo ok"], { allowFailure: true });
      expect((await viaConfig("inner")).stdout).toBe("ok\n");
      const direct = await ssh(lab, "root", "inner", "true", ["-o", "ConnectTimeout=2"]);
      expect(direct.exitCode).toBe(255);
      expect((await labStatus("jump")).nodes.map((n) => n.sshdAlive)).toEqual([true, true]);

      await rebootNode(lab, "gate");
      expect((await viaConfig("inner")).stdout).toBe("ok\n");
    } finally {
      await downLab("jump");
      release();
    }
  });

  it("runs a second lab beside the first, and its down leaves nothing behind", async () => {
    const lab = getLab();
    const release = await acquireLabLock("t2");
    // A subnet nobody uses (other labs may run on this machine).
    const subnet = await findFreeSubnet();
    const second = await upLab({ name: "t2", subnet, nodes: 2 }).catch((error: unknown) => {
      release();
      throw error;
    });
    try {
      expect(second.nodes.map((n) => n.address)).toEqual([`${subnet}.1.1`, `${subnet}.1.2`]);
      const [mine, theirs] = await Promise.all([ssh(lab, "root", "t1", "echo test"), ssh(second, "root", "node-2", "echo t2")]);
      expect([mine.stdout, theirs.stdout]).toEqual(["test\n", "t2\n"]);
      expect(existsSync("/sys/class/net/hb-t2")).toBe(true);
    } finally {
      const pids = await readLabPids(second);
      expect(pids).toHaveLength(4);
      await downLab("t2");
      release();
      expect(pids.filter(isProcessRunning)).toEqual([]);
    }
    const { stdout: netns } = await runCommand("ip", ["netns", "list"]);
    expect(netns).not.toMatch(/^hl-t2-/m);
    const { stdout: links } = await runCommand("ip", ["-o", "link", "show"]);
    expect(links).not.toMatch(/\b(hv-t2-\d+|hb-t2)\b/);
    expect(existsSync(second.dir)).toBe(false);
    // The shared lab is untouched.
    expect((await ssh(lab, "root", "t1", "true")).exitCode).toBe(0);
  });
});
