// End-to-end: the justfile's recipes, run with the real `just`, judged by their effect on the demo lab.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { execOnNode, loadLab, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";

const getLab = useLab(); // root and the e2e environment; the recipes use the demo lab of hive.ts
const ROOT = resolve(import.meta.dirname, "../..");
// rust-just is not a devDependency: npm ci needs every platform's optional binary package in the lock,
// and the registry this project is built against serves only rust-just-linux-x64, so the others' hashes
// could not be recorded. npm exec fetches this pinned version for this machine's platform instead.
const JUST_PACKAGE = "rust-just@1.57.0";
let demoWasUp = false;

function just(...args: string[]) {
  const run = spawnSync("npm", ["exec", "--yes", `--package=${JUST_PACKAGE}`, "--", "just", ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 240_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function demo(): Promise<Lab> {
  const lab = await loadLab("demo");
  if (!lab) throw new Error("the demo lab is not up");
  return lab;
}

async function running(lab: Lab, node: string): Promise<string> {
  return (await execOnNode(lab, node, "[ -e /run/current-system ] && readlink -f /run/current-system")).stdout.trim();
}

beforeAll(async () => {
  try {
    getLab();
  } catch {
    return;
  }
  demoWasUp = (await loadLab("demo")) !== null;
});

afterAll(() => {
  if (demoWasUp) just("lab-up");
});

it("lab-up, nodes, build, deploy TAG, deploy-all, fleet-status, fleet-uptime, lab-down do what they say", async () => {
  getLab();
  const version = just("--version");
  expect(version.code, version.stderr).toBe(0);
  expect(version.stdout).toMatch(/^just 1\.57\.0/);

  const down = just("lab-down");
  expect(down.code, down.stderr).toBe(0);
  const up = just("lab-up");
  expect(up.code, up.stderr).toBe(0);
  const lab = await demo();
  expect(lab.nodes.map((n) => n.name)).toEqual(["web-1", "web-2", "gpu-1", "desk-1"]);
  // A fresh lab: nothing deployed anywhere.
  for (const node of lab.nodes) expect(await running(lab, node.name)).toBe("");

  const nodes = just("nodes", "--json");
  expect(nodes.code, nodes.stderr).toBe(0);
  expect(JSON.parse(nodes.stdout).nodes.map((n: { name: string }) => n.name)).toEqual(["web-1", "web-2", "gpu-1", "desk-1"]);

  // build: every system exists in the deployer's store afterwards, and no node changed.
  const built = spawnSync(resolve(ROOT, "bin/hive"), ["build", "--json"], { cwd: ROOT, encoding: "utf8" });
  const want = Object.fromEntries(JSON.parse(built.stdout).nodes.map((n: { name: string; outPath: string }) => [n.name, n.outPath]));
  const build = just("build");
  expect(build.code, build.stderr).toBe(0);
  for (const path of Object.values(want)) expect(spawnSync("nix-store", ["--check-validity", path as string]).status).toBe(0);
  for (const node of lab.nodes) expect(await running(lab, node.name)).toBe("");

  const deploy = just("deploy", "server");
  expect(deploy.code, deploy.stderr).toBe(0);
  expect(await running(lab, "web-1")).toBe(want["web-1"]);
  expect(await running(lab, "web-2")).toBe(want["web-2"]);
  expect(await running(lab, "gpu-1")).toBe("");

  const drift = just("fleet-status");
  expect(drift.code).toBe(1);
  expect(drift.stderr + drift.stdout).toMatch(/2\/4 nodes in sync \(50%\)/);

  const all = just("deploy-all");
  expect(all.code, all.stderr).toBe(0);
  for (const node of lab.nodes) expect(await running(lab, node.name)).toBe(want[node.name]);

  const status = just("fleet-status");
  expect(status.code, status.stdout + status.stderr).toBe(0);
  expect(status.stderr + status.stdout).toMatch(/4\/4 nodes in sync \(100%\)/);

  const uptime = just("fleet-uptime");
  expect(uptime.code, uptime.stderr).toBe(0);
  for (const node of ["web-1", "web-2", "gpu-1", "desk-1"]) expect(uptime.stdout).toMatch(new RegExp(`^${node}\\s+\\|\\s+.*up .*load average`, "m"));

  const finalDown = just("lab-down");
  expect(finalDown.code, finalDown.stderr).toBe(0);
  expect(await loadLab("demo")).toBeNull();
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  expect(netns).not.toMatch(/hl-demo-/);
});
