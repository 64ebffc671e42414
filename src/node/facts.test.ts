import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { lutimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { factsScript, generationOfLink, parseNodeFacts, runningGeneration } from "./facts.js";

const PROFILE = "/nix/var/nix/profiles/system";
const A = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a";
const B = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-b";

describe("parseNodeFacts", () => {
  it("reads systems, generations, records, uptime and units", () => {
    const facts = parseNodeFacts(
      [
        `current=${B}`,
        "link=system-3-link",
        `profile=${B}`,
        "uptime=12345.67",
        `booted=${A}`,
        "kernel-changed=kernel",
        "systemd=1",
        "failed-unit=foo.service",
        `generation=1700000000.5 system-1-link ${A}`,
        `generation=1700000300.0 system-3-link ${B}`,
        `generation=1700000100.0 system-2-link ${A}`,
        "generation=1700000100.0 system-x-link /nix/store/nope",
        "generation=1700000100.0 other-4-link /nix/store/nope",
        `record=system-3-link {  "system": "${B}",  "deployedBy": "root@deployer"}`,
        "record=system-2-link {broken",
      ].join("\n"),
      PROFILE,
    );
    expect(facts).toMatchObject({ current: B, profile: B, profileGeneration: 3, booted: A, kernelChanged: true, uptimeSeconds: 12345, failedUnits: ["foo.service"] });
    expect(facts.generations.map((g) => [g.number, g.createdAt, g.system])).toEqual([
      [1, 1700000000, A],
      [2, 1700000100, A],
      [3, 1700000300, B],
    ]);
    expect([...facts.records.keys()]).toEqual([3]);
    expect(facts.records.get(3)?.deployedBy).toBe("root@deployer");
    expect(runningGeneration(facts)?.number).toBe(3);
  });

  it("says null where there is no systemd and no booted system", () => {
    const facts = parseNodeFacts(`current=${A}\nlink=\nprofile=\nuptime=5.0\n`, PROFILE);
    expect(facts).toMatchObject({ failedUnits: null, kernelChanged: null, booted: null, profileGeneration: null });
    expect(runningGeneration(facts)).toBeNull();
  });

  it("picks the newest generation naming the running system when the profile names another", () => {
    const facts = parseNodeFacts(
      [`current=${A}`, "link=system-3-link", `generation=1 system-1-link ${A}`, `generation=2 system-2-link ${A}`, `generation=3 system-3-link ${B}`].join("\n"),
      PROFILE,
    );
    expect(runningGeneration(facts)?.number).toBe(2);
  });
});

describe("factsScript", () => {
  it("runs under sh against a real profile directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-facts-"));
    const profiles = join(dir, "profiles");
    mkdirSync(profiles);
    const systems = [join(dir, "sys-a"), join(dir, "sys-b")];
    for (const s of systems) mkdirSync(s);
    symlinkSync(systems[0]!, join(profiles, "system-1-link"));
    symlinkSync(systems[1]!, join(profiles, "system-2-link"));
    symlinkSync("system-2-link", join(profiles, "system"));
    await lutimes(join(profiles, "system-1-link"), 1700000000, 1700000000);
    const out = execFileSync("sh", ["-c", factsScript(join(profiles, "system"), "history")], { encoding: "utf8" });
    const facts = parseNodeFacts(out, join(profiles, "system"));
    expect(facts.profileGeneration).toBe(2);
    expect(facts.profile).toBe(systems[1]);
    expect(facts.generations.map((g) => [g.number, g.system])).toEqual([
      [1, systems[0]],
      [2, systems[1]],
    ]);
    expect(facts.generations[0]!.createdAt).toBe(1700000000);
    expect(facts.uptimeSeconds).toBeGreaterThan(0);
  });
});

describe("the state level", () => {
  it("parses the probe's output", () => {
    expect(parseNodeFacts("current=/nix/store/a-sys\nprofile=/nix/store/a-sys\nlink=system-12-link\nbooted=\n", PROFILE)).toMatchObject({
      current: "/nix/store/a-sys",
      profile: "/nix/store/a-sys",
      profileGeneration: 12,
      booted: null,
    });
    expect(parseNodeFacts("current=\nprofile=\nlink=\nbooted=\n", PROFILE)).toMatchObject({ current: null, profile: null, profileGeneration: null, booted: null });
  });

  it("reads generation numbers from profile links", () => {
    expect(generationOfLink("system-1-link")).toBe(1);
    expect(generationOfLink("/nix/var/nix/profiles/my-profile-307-link")).toBe(307);
    expect(generationOfLink("something")).toBeNull();
  });

  it("resolves the profile and its generation with two readlink processes", () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-probe-"));
    mkdirSync(join(dir, "system-a"));
    symlinkSync(join(dir, "system-a"), join(dir, "system-3-link"));
    symlinkSync("system-3-link", join(dir, "system"));
    const script = factsScript(join(dir, "system"), "state");
    expect(script.match(/readlink/g)).toHaveLength(2);
    const state = parseNodeFacts(execFileSync("sh", ["-c", script], { encoding: "utf8" }), join(dir, "system"));
    expect(state).toMatchObject({ profile: join(dir, "system-a"), profileGeneration: 3 });
    rmSync(dir, { recursive: true });
  });

  it("runs under sh and quotes the profile", () => {
    const out = execFileSync("sh", ["-c", factsScript("/nonexistent/it's a profile", "state")], { encoding: "utf8" });
    expect(parseNodeFacts(out, "/nonexistent/it's a profile")).toMatchObject({ profile: null, profileGeneration: null });
  });
});

describe("the status level", () => {
  it("reads memory, disk, load, listening ports and events in one script, with few processes", () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-facts-"));
    mkdirSync(join(dir, "sys-a"));
    symlinkSync(join(dir, "sys-a"), join(dir, "system-1-link"));
    symlinkSync("system-1-link", join(dir, "system"));
    const script = factsScript(join(dir, "system"), "status", { units: ["sshd.service"], ports: [1, 65534] });
    const out = execFileSync("sh", ["-c", script], { encoding: "utf8" });
    const facts = parseNodeFacts(out, join(dir, "system"));
    expect(facts.resources!.memory!.totalBytes).toBeGreaterThan(facts.resources!.memory!.availableBytes);
    expect(facts.resources!.disks[0]).toMatchObject({ path: "/", mount: "/" });
    expect(facts.resources!.disks[0]!.usedBytes).toBeLessThanOrEqual(facts.resources!.disks[0]!.sizeBytes);
    expect(facts.resources!.load).toHaveLength(3);
    expect(facts.resources!.cpus).toBeGreaterThan(0);
    expect(facts.services!.listening).toEqual(new Set()); // nothing listens on ports 1 and 65534 here
    // Every process the script starts, counted by the kernel (strace): the cost per node per status.
    const traced = spawnSync("strace", ["-f", "-qq", "-e", "trace=execve", "-o", join(dir, "trace"), "sh", "-c", script]);
    expect(traced.status, "strace is needed to count the facts script's processes (bash scripts/setup.sh installs it)").toBe(0);
    const programs = readFileSync(join(dir, "trace"), "utf8").split("\n").filter((l) => l.includes("execve(")).map((l) => /execve\("([^"]+)"/.exec(l)![1]!.replace(/^.*\//, ""));
    // sh itself, readlink -f and readlink (state), find (generations), tail (events), df, awk (ports);
    // on NixOS add two systemctl and a tr per record shown.
    expect(programs.sort()).toEqual(["awk", "df", "find", "readlink", "readlink", "sh", "tail"]);
    rmSync(dir, { recursive: true });
  });

  it("parses systemd units and listening ports", () => {
    const facts = parseNodeFacts(
      ["systemd=1", "unit=Id=a.service", "unit=LoadState=loaded", "unit=ActiveState=active", "unit=SubState=running", "unit=", "unit=LoadState=not-found", "unit=Id=b.service", "unit=ActiveState=inactive", "unit=SubState=dead", "ports-read=1", "listening=0050", "listening=0050", "listening=zz"].join("\n"),
      PROFILE,
    );
    expect(facts.services!.units).toEqual(new Map([["a.service", { load: "loaded", active: "active", sub: "running" }], ["b.service", { load: "not-found", active: "inactive", sub: "dead" }]]));
    expect(facts.services!.listening).toEqual(new Set([80]));
    expect(parseNodeFacts("uptime=1\n", PROFILE)).toMatchObject({ resources: null, services: null });
  });
});
