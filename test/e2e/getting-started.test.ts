// End-to-end: docs/getting-started.md's first deploy, run from the page itself on a lab of its own,
// judged by each node's real state after each step. Commands and files come from the page's
// `<!-- guide-test: run ID -->` and `<!-- guide-test: file NAME -->` blocks, so page and test cannot drift.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { downLab, findFreeSubnet, loadLab, resolveLabRoot, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { fetchFromNode, nodeState } from "./hive-fixture.js";

const getLab = useLab(); // root and the e2e environment; the page's lab is a second one, its own
const ROOT = resolve(import.meta.dirname, "../..");
const PAGE = join(ROOT, "docs/getting-started.md");

// The page's lab name and subnet, replaced by ones no other lab on this machine uses.
const PAGE_LAB = { name: "first", subnet: "10.79", root: "/var/lib/hive-lab" };
const LAB_NAME = process.env["HIVE_GUIDE_LAB"] ?? `${process.env["HIVE_E2E_LAB"] ?? "test"}-gs`.slice(0, 8);

type Step = { kind: "run"; id: string; commands: string[] } | { kind: "file"; name: string; text: string };

/** The marked blocks of the page, in order. */
function readSteps(page: string): Step[] {
  const steps: Step[] = [];
  for (const match of page.matchAll(/<!-- guide-test: (run|file) (\S+) -->\n```[a-z]*\n([\s\S]*?)\n```\n/g)) {
    const [, kind, name = "", body = ""] = match;
    if (kind === "file") steps.push({ kind: "file", name, text: `${body}\n` });
    else steps.push({ kind: "run", id: name, commands: body.split("\n").filter((l) => l.startsWith("$ ")).map((l) => l.slice(2)) });
  }
  return steps;
}

let subnet = "";
let home = "";
let steps: Step[] = [];

/** Swaps the page's lab name, subnet and lab root for this run's, after checking the page has them. */
function localize(text: string): string {
  return text
    .replaceAll(new RegExp(`--name ${PAGE_LAB.name}\\b`, "g"), `--name ${LAB_NAME}`)
    .replaceAll(`${PAGE_LAB.root}/${PAGE_LAB.name}/`, `${resolveLabRoot()}/${LAB_NAME}/`)
    .replaceAll(`--subnet ${PAGE_LAB.subnet} `, `--subnet ${subnet} `)
    .replaceAll(`"${PAGE_LAB.subnet}.`, `"${subnet}.`);
}

/** Runs one command of the page as a reader would, in their shell's directory; returns where it left them. */
function runCommand(command: string, cwd: string): { code: number | null; stdout: string; stderr: string; cwd: string } {
  const pwdFile = join(home, ".pwd");
  const script = `cd "$1" || exit 99\n${command}\nrc=$?\npwd > "$2"\nexit $rc`;
  const run = spawnSync("bash", ["-c", script, "page-command", cwd, pwdFile], {
    encoding: "utf8",
    timeout: 170_000,
    env: { ...process.env, HOME: home, PATH: `${ROOT}/bin:${process.env["PATH"]}`, NO_COLOR: "1" },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, cwd: readFileSync(pwdFile, "utf8").trim() };
}

async function guideLab(): Promise<Lab> {
  const lab = await loadLab(LAB_NAME);
  if (!lab) throw new Error(`lab ${LAB_NAME} is not up`);
  return lab;
}

async function expectServing(node: string, version: string, generation: number): Promise<void> {
  const lab = await guideLab();
  expect(await fetchFromNode(lab, node)).toEqual({ status: 200, body: `${node} ${version}` });
  const state = await nodeState(lab, node);
  expect(state.current).toMatch(new RegExp(`-nixos-system-${node}-${version}$`));
  expect(state.generation).toBe(generation);
  expect(state.profile).toBe(state.current);
}

// What each run block must leave behind on the nodes; every block of the page has one here.
const EXPECT: Record<string, () => Promise<void>> = {
  "lab-up": async () => {
    expect((await guideLab()).nodes.map((n) => n.name)).toEqual(["web-1", "web-2"]);
  },
  "first-deploy": async () => {
    await expectServing("web-1", "1", 1);
    await expectServing("web-2", "1", 1);
  },
  redeploy: async () => {
    await expectServing("web-1", "2", 2);
    await expectServing("web-2", "2", 2);
  },
  rollback: async () => {
    await expectServing("web-1", "1", 1);
    await expectServing("web-2", "2", 2);
  },
  "lab-down": async () => {
    expect(await loadLab(LAB_NAME)).toBeNull();
  },
};

beforeAll(async () => {
  const page = readFileSync(PAGE, "utf8");
  steps = readSteps(page);
  subnet = process.env["HIVE_GUIDE_SUBNET"] ?? (await findFreeSubnet(150));
  home = mkdtempSync(join(tmpdir(), "hive-guide-home-"));
  symlinkSync(ROOT, join(home, "hive"));
});

afterAll(async () => {
  if (await loadLab(LAB_NAME)) await downLab(LAB_NAME);
  if (home) rmSync(home, { recursive: true, force: true });
});

it("the page's blocks are all there, and every console block of the first deploy is run", () => {
  const page = readFileSync(PAGE, "utf8");
  const section = page.slice(page.indexOf("## Your first deploy"));
  const consoleBlocks = section.match(/```console\n/g)?.length ?? 0;
  const marked = section.match(/<!-- guide-test: run \S+ -->\n```console\n/g)?.length ?? 0;
  expect(consoleBlocks).toBeGreaterThan(0);
  expect(marked).toBe(consoleBlocks);
  const runIds = steps.flatMap((s) => (s.kind === "run" ? [s.id] : []));
  expect(runIds).toEqual(Object.keys(EXPECT));
  // The swaps in localize() find what they look for.
  for (const needle of [`--name ${PAGE_LAB.name} `, `${PAGE_LAB.root}/${PAGE_LAB.name}/`, `--subnet ${PAGE_LAB.subnet} `, `"${PAGE_LAB.subnet}.1.1"`]) {
    expect(page).toContain(needle);
  }
});

it("deploys, changes, and rolls back exactly as the page says", async () => {
  getLab();
  let cwd = home;
  for (const step of steps) {
    if (step.kind === "file") {
      mkdirSync(cwd, { recursive: true });
      writeFileSync(join(cwd, step.name), localize(step.text));
      continue;
    }
    for (const pageCommand of step.commands) {
      const command = localize(pageCommand);
      const expectedCode = Number(/# exits (\d+)/.exec(command)?.[1] ?? 0);
      const run = runCommand(command, cwd);
      const transcript = `$ ${command}\n${run.stdout}${run.stderr}`;
      console.log(transcript);
      expect(run.code, transcript).toBe(expectedCode);
      cwd = run.cwd;
    }
    await EXPECT[step.id]!();
  }
});
