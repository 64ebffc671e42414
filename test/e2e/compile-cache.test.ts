// End-to-end: another local user cannot plant code in hive's compile cache, nor read compiled secrets there.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runHive } from "../cli/run-hive.js";
import { useLab } from "../lab/use-lab.js";

const getLab = useLab();
const NOBODY = 65534;
const SECRET = `hive-cc-secret-${process.pid}-${Date.now()}`;

let base: string;
/** A shared temp directory like /tmp: world-writable, sticky. */
let sharedTmp: string;
let hiveFile: string;
/** The file the attacker's planted code creates when it runs. */
let pwned: string;
/** Names jiti gives hive.ts in its cache, read from a cache hive made in a place of root's own. */
let cacheNames: string[];

/** Runs a shell command as `nobody`, the local attacker. */
function asNobody(script: string): void {
  const result = spawnSync("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", "sh", "-c", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`as nobody: ${script}: exit ${result.status}: ${result.stderr}`);
}

/** A compiled module that does what the attacker wants, then what hive.ts did; it ends with the marker jiti checks. */
function plantedModule(genuine: string): string {
  const marker = genuine.slice(genuine.lastIndexOf(" /* v"));
  return `require("node:fs").writeFileSync(${JSON.stringify(pwned)}, "ran as uid " + process.getuid() + "\\n");\n${genuine.slice(0, -marker.length)}${marker}`;
}

/** hive.ts as jiti compiled it (from the probe run), marker included. */
function compiled(): string {
  const [name] = cacheNames;
  const where = [join(base, "probe", "cache", "hive", "jiti", name!), join(base, "probe", "tmp", "jiti", name!)].find(existsSync);
  return readFileSync(where!, "utf8");
}

function hiveNodes(env: NodeJS.ProcessEnv) {
  return runHive(["-f", hiveFile, "nodes"], { env: { JITI_FS_CACHE: undefined, JITI_CACHE: undefined, ...env } });
}

/** Files under `dir` (recursively) that `nobody` can read and that hold the secret. */
function secretReadableByNobody(dir: string): string[] {
  const result = spawnSync("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", "grep", "-rlF", "-s", SECRET, dir], { encoding: "utf8" });
  return result.stdout.split("\n").filter((l) => l !== "");
}

beforeAll(() => {
  try {
    getLab();
  } catch {
    return;
  }
  base = mkdtempSync("/tmp/hive-cc-");
  chmodSync(base, 0o755);
  sharedTmp = join(base, "tmp");
  mkdirSync(sharedTmp);
  chmodSync(sharedTmp, 0o1777);
  const fleet = join(base, "fleet");
  mkdirSync(fleet, { mode: 0o755 });
  hiveFile = join(fleet, "hive.ts");
  pwned = join(base, "pwned");
  writeFileSync(
    hiveFile,
    `export default { nodes: { web: { targetHost: "192.0.2.1", keys: { api: { text: ${JSON.stringify(SECRET)} } } } } };\n`,
    { mode: 0o644 },
  );
  // The names an attacker would aim at: what hive compiles hive.ts to, in places of root's own
  // (hive keeps it under XDG_CACHE_HOME; hive before the fix, and jiti's default, under TMPDIR).
  const probe = join(base, "probe");
  mkdirSync(join(probe, "tmp"), { recursive: true });
  const run = hiveNodes({ XDG_CACHE_HOME: join(probe, "cache"), TMPDIR: join(probe, "tmp") });
  expect(run.code, run.stderr).toBe(0);
  const namesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.includes("hive+map")) : []);
  cacheNames = [...new Set([...namesIn(join(probe, "cache", "hive", "jiti")), ...namesIn(join(probe, "tmp", "jiti"))])];
  expect(cacheNames.length).toBe(1);
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("hive's compile cache", () => {
  it("never runs what another user planted in $TMPDIR/jiti, and leaves no compiled secret there", () => {
    // The attacker creates jiti's default cache directory before root first runs hive.
    asNobody(`mkdir -m 0777 ${sharedTmp}/jiti`);
    const env = { TMPDIR: sharedTmp, XDG_CACHE_HOME: join(base, "root-cache") };
    const first = hiveNodes(env);
    expect(first.code, first.stderr).toBe(0);
    const readable = secretReadableByNobody(sharedTmp);

    // The attacker replaces whatever root compiled there (and plants the names hive uses) with code of its own.
    const genuine = compiled();
    const names = new Set([...readdirSync(join(sharedTmp, "jiti")), ...cacheNames]);
    for (const name of names) {
      writeFileSync(join(base, "payload"), plantedModule(genuine));
      chmodSync(join(base, "payload"), 0o644);
      asNobody(`rm -f '${sharedTmp}/jiti/${name}' && cp '${base}/payload' '${sharedTmp}/jiti/${name}'`);
    }
    const second = hiveNodes(env);
    const planted = existsSync(pwned) ? readFileSync(pwned, "utf8") : "not run";
    expect({ readable, planted }).toEqual({ readable: [], planted: "not run" });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^web\s/m);
  });

  it("refuses a cache directory another user created or can write, and runs nothing from it", () => {
    const genuine = compiled();
    writeFileSync(join(base, "payload"), plantedModule(genuine));
    chmodSync(join(base, "payload"), 0o644);
    const plant = (jitiDir: string) => `mkdir -p '${jitiDir}' && cp '${base}/payload' '${jitiDir}/${cacheNames[0]}'`;
    /** XDG_CACHE_HOME as root made it: shared and sticky like /tmp, or writable by all. */
    const rootDir = (name: string, mode: number) => {
      const dir = join(sharedTmp, name);
      mkdirSync(dir);
      chmodSync(dir, mode);
      return dir;
    };
    const cases: { cache: string; attack: string; refused: RegExp }[] = [];
    // XDG_CACHE_HOME is /tmp-like; the attacker made hive's directory in it first, module included.
    const x1 = rootDir("x1", 0o1777);
    cases.push({ cache: x1, attack: plant(`${x1}/hive/jiti`), refused: /x1\/hive belongs to uid 65534, not to you \(uid 0\); another user could plant files there/ });
    // XDG_CACHE_HOME itself is the attacker's.
    const x2 = join(sharedTmp, "x2");
    cases.push({ cache: x2, attack: `mkdir -m 0755 '${x2}' && ${plant(`${x2}/hive/jiti`)}`, refused: /x2 belongs to uid 65534, not to you \(uid 0\)/ });
    // hive's directory is the attacker's symlink to a tree it controls.
    const x3 = rootDir("x3", 0o1777);
    cases.push({ cache: x3, attack: `${plant(`${sharedTmp}/x3-target/jiti`)} && ln -s '${sharedTmp}/x3-target' '${x3}/hive'`, refused: /x3\/hive is a symlink; refusing to keep hive's files there/ });
    // XDG_CACHE_HOME is writable by everyone and not sticky: anyone could swap hive's directory.
    const x4 = rootDir("x4", 0o777);
    cases.push({ cache: x4, attack: plant(`${x4}/hive/jiti`), refused: /x4 is writable by other users \(mode 0777\); refusing to keep hive's files under it/ });
    for (const { cache, attack, refused } of cases) {
      asNobody(attack);
      const run = hiveNodes({ TMPDIR: sharedTmp, XDG_CACHE_HOME: cache });
      expect(existsSync(pwned) ? readFileSync(pwned, "utf8") : "not run", cache).toBe("not run");
      expect(run.code, `${cache}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(refused);
      expect(run.stderr).toContain("; hive would run what is there as you");
      expect(run.stdout).toBe("");
    }
  });

  it("keeps the compiled hive.ts where only its user can read or write it", () => {
    const cache = join(base, "root-cache");
    for (const dir of [join(cache, "hive"), join(cache, "hive", "jiti")]) {
      const stats = statSync(dir);
      expect([stats.uid, (stats.mode & 0o7777).toString(8)], dir).toEqual([0, "700"]);
    }
    expect(readFileSync(join(cache, "hive", "jiti", cacheNames[0]!), "utf8")).toContain(SECRET);
    expect(secretReadableByNobody(cache)).toEqual([]);
    // A directory of hive's own that others could read is closed again; one they could write is refused.
    chmodSync(join(cache, "hive", "jiti"), 0o755);
    expect(hiveNodes({ XDG_CACHE_HOME: cache }).code).toBe(0);
    expect((statSync(join(cache, "hive", "jiti")).mode & 0o777).toString(8)).toBe("700");
    chmodSync(join(cache, "hive"), 0o777);
    const run = hiveNodes({ XDG_CACHE_HOME: cache });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/hive is writable by other users \(mode 0777\)/);
    chmodSync(join(cache, "hive"), 0o700);
    // Switched off, nothing is cached anywhere.
    const off = join(base, "off-cache");
    expect(hiveNodes({ XDG_CACHE_HOME: off, JITI_FS_CACHE: "false" }).code).toBe(0);
    expect(existsSync(off)).toBe(false);
  });
});
