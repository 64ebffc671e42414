// hive vars generate/check on a temporary hive: real commands (sh, ssh-keygen), real age, real files.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Hive } from "../config/normalize.js";
import { validateHive } from "../config/validate.js";
import { execaRunner } from "../nix/runner.js";
import type { HiveEvent } from "../events.js";
import { type GenerateOptions, generateVars } from "./generate.js";
import { readVarSecret } from "./secret-source.js";
import { inspectVars } from "./status.js";
import { readPublicVars } from "./store.js";

let dir: string;
let home: string;
let env: Record<string, string>;
let recipient: string;

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-vars-unit-"));
  home = join(dir, "home");
  run("mkdir", ["-p", join(home, ".config", "hive")]);
  run("age-keygen", ["-o", join(home, ".config", "hive", "age.key")]);
  recipient = run("age-keygen", ["-y", join(home, ".config", "hive", "age.key")]).trim();
  env = { HOME: home, XDG_RUNTIME_DIR: "", HIVE_AGE_IDENTITY: "" };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SSH_HOST = {
  command: ["sh", "-c", 'ssh-keygen -q -t ed25519 -N "" -C "$HIVE_NODE" -f "$out/ed25519"'],
  files: { ed25519: { permissions: "0400" }, "ed25519.pub": { secret: false } },
};
const PASSWORD = { share: true, command: ["sh", "-c", 'head -c 18 /dev/urandom | base64 > "$out/password"'], files: { password: { user: "postgres" } } };

function hiveWith(generators: Record<string, unknown>, recipients = [recipient]): Hive {
  const file = join(dir, "hive.ts");
  return validateHive({ nodes: { a: { tags: ["db"] }, b: {} }, vars: { recipients, generators } }, file, () => ({ identityFiles: [] }));
}

async function generate(hive: Hive, options: GenerateOptions = {}, events: HiveEvent[] = []) {
  const reporter = { emit: (e: HiveEvent) => void events.push(e) };
  const results = await generateVars({ hive, runner: execaRunner, env, reporter, now: () => new Date("2030-01-02T03:04:05Z") }, options);
  return Object.fromEntries(results.map((r) => [r.node === null ? r.generator : `${r.generator}@${r.node}`, r]));
}

const outcomes = async (hive: Hive, options: GenerateOptions = {}) =>
  Object.fromEntries(Object.entries(await generate(hive, options)).map(([k, r]) => [k, r.outcome]));

/** Every file under vars/, relative, sorted. */
function storedFiles(): string[] {
  return (readdirSync(join(dir, "vars"), { recursive: true }) as string[]).filter((f) => statSync(join(dir, "vars", f)).isFile()).sort();
}

const ageDecrypt = (file: string) => run("age", ["-d", "-i", join(home, ".config", "hive", "age.key"), join(dir, "vars", file)]);
const snapshot = () => Object.fromEntries(storedFiles().map((f) => [f, readFileSync(join(dir, "vars", f), "utf8")]));

describe("generateVars", () => {
  it("generates per-node key pairs and a shared password: age files and public files only, decryptable by age", async () => {
    const hive = hiveWith({ "ssh-host": SSH_HOST, db: { ...PASSWORD, on: "@db" } });
    const events: HiveEvent[] = [];
    expect(Object.fromEntries(Object.entries(await generate(hive, {}, events)).map(([k, r]) => [k, r.outcome]))).toEqual({
      "ssh-host@a": "generated",
      "ssh-host@b": "generated",
      db: "generated",
    });
    expect(events).toEqual([
      { code: "vars.started", generator: "ssh-host", node: "a", action: "generate" },
      { code: "vars.done", generator: "ssh-host", node: "a", outcome: "generated", message: null },
      { code: "vars.started", generator: "ssh-host", node: "b", action: "generate" },
      { code: "vars.done", generator: "ssh-host", node: "b", outcome: "generated", message: null },
      { code: "vars.started", generator: "db", node: null, action: "generate" },
      { code: "vars.done", generator: "db", node: null, outcome: "generated", message: null },
    ]);
    expect(storedFiles()).toEqual([
      "nodes/a/ssh-host/.manifest.json",
      "nodes/a/ssh-host/ed25519.age",
      "nodes/a/ssh-host/ed25519.pub",
      "nodes/b/ssh-host/.manifest.json",
      "nodes/b/ssh-host/ed25519.age",
      "nodes/b/ssh-host/ed25519.pub",
      "shared/db/.manifest.json",
      "shared/db/password.age",
    ]);
    // The private key decrypts with age and matches the stored public key; it was made for its node.
    const key = ageDecrypt("nodes/a/ssh-host/ed25519.age");
    expect(key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    writeFileSync(join(dir, "k"), key, { mode: 0o600 });
    const pub = readFileSync(join(dir, "vars/nodes/a/ssh-host/ed25519.pub"), "utf8");
    expect(run("ssh-keygen", ["-y", "-f", join(dir, "k")])).toBe(pub);
    expect(pub.trim().endsWith(" a")).toBe(true);
    expect(readFileSync(join(dir, "vars/nodes/b/ssh-host/ed25519.pub"), "utf8")).not.toBe(pub);
    expect(ageDecrypt("shared/db/password.age")).toMatch(/^[A-Za-z0-9+/]{24}\n$/);
    // The manifest: hashes of stored bytes, recipients, no content.
    const manifest = JSON.parse(readFileSync(join(dir, "vars/nodes/a/ssh-host/.manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ version: 1, generator: "ssh-host", node: "a", generatedAt: "2030-01-02T03:04:05.000Z", recipients: [recipient], inputs: {} });
    expect(JSON.stringify(manifest)).not.toContain(key.split("\n")[1]!.slice(0, 20));

    expect(await outcomes(hive)).toEqual({ "ssh-host@a": "unchanged", "ssh-host@b": "unchanged", db: "unchanged" });
  });

  it("gives public files to Nix's node data, null where not generated", async () => {
    const hive = hiveWith({ "ssh-host": SSH_HOST, db: PASSWORD });
    expect((await readPublicVars(hive)).get("a")).toEqual({ "ssh-host": { "ed25519.pub": null } });
    await generate(hive, { on: "a" });
    const values = await readPublicVars(hive);
    expect(values.get("a")!["ssh-host"]!["ed25519.pub"]).toMatch(/^ssh-ed25519 /);
    expect(values.get("b")).toEqual({ "ssh-host": { "ed25519.pub": null } });
  });

  it("runs the command in a fresh 0700 directory under a private parent, removed afterwards", async () => {
    const probe = { command: ["sh", "-c", 'printf "%s %s %s %s" "$PWD" "$(stat -c %a "$out/..")" "$TMPDIR" "$HIVE_NODE" > "$out/where"'], files: { where: { secret: false } } };
    const hive = hiveWith({ probe });
    await generate(hive, { on: "a" });
    const [cwd, mode, tmp, node] = readFileSync(join(dir, "vars/nodes/a/probe/where"), "utf8").split(" ");
    expect(relative(join(home, ".cache", "hive"), cwd!)).toMatch(/^vars-[^/]+\/out$/);
    expect(mode).toBe("700");
    expect(tmp).toBe(join(cwd!, "..", "tmp"));
    expect(node).toBe("a");
    expect(readdirSync(join(home, ".cache", "hive"))).toEqual([]);
    expect(statSync(join(home, ".cache", "hive")).mode & 0o777).toBe(0o700);
  });

  it("refuses a private parent that others can write to", async () => {
    run("mkdir", ["-p", join(home, ".cache", "hive")]);
    run("chmod", ["0777", join(home, ".cache", "hive")]);
    const result = await generate(hiveWith({ db: PASSWORD }));
    expect(result["db"]).toMatchObject({ outcome: "failed", message: expect.stringMatching(/cannot make a private directory for generators: .*\/\.cache\/hive is writable by other users \(mode 0?777\)/) });
  });

  it("stores nothing when the command fails or leaves out a declared file, keeping the earlier value", async () => {
    const hive = hiveWith({ "ssh-host": SSH_HOST, db: PASSWORD });
    await generate(hive);
    const before = snapshot();
    const failing = hiveWith({ "ssh-host": { ...SSH_HOST, command: ["sh", "-c", "echo 'ssh-keygen: out of entropy' >&2; exit 3"] }, db: PASSWORD });
    const failed = await generate(failing, { regenerate: ["ssh-host"] });
    expect(failed["ssh-host@a"]).toMatchObject({
      outcome: "failed",
      message: `ssh-host for a: command sh -c 'echo '\\''ssh-keygen: out of entropy'\\'' >&2; exit 3' exited 3: ssh-keygen: out of entropy; nothing was stored`,
      log: ["ssh-keygen: out of entropy"],
    });
    const partial = hiveWith({ "ssh-host": { ...SSH_HOST, command: ["sh", "-c", 'echo x > "$out/ed25519"; echo y > "$out/ed25519.pb"'] }, db: PASSWORD });
    const missing = await generate(partial, { regenerate: ["ssh-host"] });
    expect(missing["ssh-host@b"]!.message).toBe("ssh-host for b: the command did not write ed25519.pub (it wrote ed25519, ed25519.pb); nothing was stored");
    expect(snapshot()).toEqual(before);
  });

  it("rejects a public file that is not text, and a declared file that is a symlink", async () => {
    const binary = hiveWith({ bin: { command: ["sh", "-c", 'printf "a\\0b" > "$out/v"; ln -s /etc/passwd "$out/l"'], files: { v: { secret: false }, l: {} } } });
    expect((await generate(binary, { on: "a" }))["bin@a"]!.message).toBe(
      "bin for a: public file v is not UTF-8 text (Nix strings cannot hold it): mark it secret, or encode it (base64); l is not a regular file; nothing was stored",
    );
  });

  it("gives dependencies' files in $in, secret ones decrypted; regenerating one regenerates what reads it", async () => {
    const ca = { share: true, on: [], command: ["sh", "-c", 'echo "ca-secret-$(head -c 12 /dev/urandom | base64)" > "$out/key"; echo ca-pub > "$out/cert"'], files: { key: { deploy: false }, cert: { secret: false } } };
    const leaf = { dependencies: ["ca"], command: ["sh", "-c", 'cat "$in/ca/key" "$in/ca/cert" > "$out/signed"'], files: { signed: {} } };
    const hive = hiveWith({ leaf, ca });
    expect(await outcomes(hive)).toEqual({ ca: "generated", "leaf@a": "generated", "leaf@b": "generated" });
    const caKey = ageDecrypt("shared/ca/key.age");
    expect(ageDecrypt("nodes/a/leaf/signed.age")).toBe(`${caKey}ca-pub\n`);
    expect(JSON.parse(readFileSync(join(dir, "vars/nodes/a/leaf/.manifest.json"), "utf8")).inputs).toEqual({
      ca: JSON.parse(readFileSync(join(dir, "vars/shared/ca/.manifest.json"), "utf8")).id,
    });
    expect(await outcomes(hive, { regenerate: ["ca"] })).toEqual({ ca: "generated", "leaf@a": "generated", "leaf@b": "generated" });
    expect(ageDecrypt("nodes/b/leaf/signed.age")).toBe(`${ageDecrypt("shared/ca/key.age")}ca-pub\n`);
    expect(ageDecrypt("shared/ca/key.age")).not.toBe(caKey);

    // A failed dependency skips what reads it.
    const broken = hiveWith({ leaf, ca: { ...ca, command: ["false"] } });
    const results = await generate(broken, { regenerate: ["ca"] });
    expect(results["ca"]!.outcome).toBe("failed");
    expect(results["leaf@a"]).toMatchObject({ outcome: "skipped", message: "its dependency ca (shared) failed" });
  });

  it("reports stale instances and leaves them until --regenerate; check tells why", async () => {
    const hive = hiveWith({ db: PASSWORD, "ssh-host": SSH_HOST });
    await generate(hive);
    const changed = hiveWith({ db: { ...PASSWORD, command: ["sh", "-c", 'head -c 30 /dev/urandom | base64 > "$out/password"'] }, "ssh-host": SSH_HOST });
    writeFileSync(join(dir, "vars/nodes/b/ssh-host/ed25519.pub"), "forged\n");
    const { instances } = await inspectVars(changed, undefined);
    expect(instances.map((i) => [i.generator, i.node, i.state, i.reasons])).toEqual([
      ["db", null, "stale", ["its definition (command, files, dependencies or share) changed since it was generated"]],
      ["ssh-host", "a", "ok", []],
      ["ssh-host", "b", "stale", ["ed25519.pub was changed outside hive"]],
    ]);
    const left = await generate(changed);
    expect(left["db"]).toMatchObject({ outcome: "stale", message: expect.stringMatching(/run `hive vars generate --regenerate db`$/) });
    expect(await outcomes(changed, { regenerate: ["db", "ssh-host"], on: "b" })).toEqual({ db: "generated", "ssh-host@b": "generated" });
    expect((await inspectVars(changed, undefined)).instances.every((i) => i.state === "ok")).toBe(true);
  });

  it("re-encrypts for changed recipients without regenerating, so what reads the files stays current", async () => {
    const hive = hiveWith({ db: PASSWORD });
    await generate(hive);
    const password = ageDecrypt("shared/db/password.age");
    const id = JSON.parse(readFileSync(join(dir, "vars/shared/db/.manifest.json"), "utf8")).id;
    run("age-keygen", ["-o", join(dir, "new.key")]);
    const newcomer = run("age-keygen", ["-y", join(dir, "new.key")]).trim();
    const widened = hiveWith({ db: PASSWORD }, [recipient, newcomer]);
    expect((await inspectVars(widened, undefined)).instances[0]).toMatchObject({ state: "rekey", reasons: [expect.stringMatching(/^encrypted for other recipients than vars.recipients \(\+age1/)] });
    expect(await outcomes(widened)).toEqual({ db: "rekeyed" });
    expect(run("age", ["-d", "-i", join(dir, "new.key"), join(dir, "vars/shared/db/password.age")])).toBe(password);
    expect(JSON.parse(readFileSync(join(dir, "vars/shared/db/.manifest.json"), "utf8")).id).toBe(id);
    // Dropping the first operator: the newcomer re-encrypts, and the old identity no longer opens it.
    env["HIVE_AGE_IDENTITY"] = join(dir, "new.key");
    expect(await outcomes(hiveWith({ db: PASSWORD }, [newcomer]))).toEqual({ db: "rekeyed" });
    expect(spawnSync("age", ["-d", "-i", join(home, ".config", "hive", "age.key"), join(dir, "vars/shared/db/password.age")]).status).not.toBe(0);
  });

  it("fails an instance whose secret input cannot be decrypted, naming the identity; other instances go on", async () => {
    const ca = { share: true, command: ["sh", "-c", 'echo k > "$out/key"'], files: { key: { deploy: false } } };
    const leaf = { dependencies: ["ca"], command: ["sh", "-c", 'cat "$in/ca/key" > "$out/x"'], files: { x: {} } };
    await generate(hiveWith({ ca }));
    env["HIVE_AGE_IDENTITY"] = join(dir, "nope.key");
    const results = await generate(hiveWith({ ca, leaf, other: PASSWORD }));
    expect(results["leaf@a"]).toMatchObject({ outcome: "failed", message: expect.stringContaining(`cannot read the age identity ${join(dir, "nope.key")} (from $HIVE_AGE_IDENTITY): no such file`) });
    expect(results["other"]!.outcome).toBe("generated");
  });

  it("refuses --regenerate of an unknown generator, or one for no selected node", async () => {
    const hive = hiveWith({ "ssh-host": SSH_HOST, db: { ...PASSWORD, on: "@db" } });
    await expect(generate(hive, { regenerate: ["ssh-hots"] })).rejects.toThrow('--regenerate ssh-hots: no generator "ssh-hots"; did you mean "ssh-host"?');
    await expect(generate(hive, { regenerate: ["db"], on: "b" })).rejects.toThrow("--regenerate db: generator db is not for any selected node");
  });
});

describe("readVarSecret", () => {
  it("decrypts a var for a key, and says what to do when it is missing or not for this identity", async () => {
    const hive = hiveWith({ db: PASSWORD });
    const source = hive.nodes[0]!.keys["db/password"]!.var!;
    await expect(readVarSecret(source, env)).rejects.toThrow(`${join(dir, "vars/shared/db/password.age")} has not been generated yet; run \`hive vars generate\``);
    await generate(hive);
    expect((await readVarSecret(source, env)).toString()).toBe(ageDecrypt("shared/db/password.age"));
    run("age-keygen", ["-o", join(dir, "other.key")]);
    await expect(readVarSecret(source, { ...env, HIVE_AGE_IDENTITY: join(dir, "other.key") })).rejects.toThrow(
      `${join(dir, "vars/shared/db/password.age")} is not encrypted for the identity ${join(dir, "other.key")}; if you should be able to read it, add your public key to vars.recipients`,
    );
    await expect(readVarSecret(source, { HOME: join(dir, "nobody") })).rejects.toThrow(/no age identity to decrypt vars with: none of .*\/nobody\/.config\/hive\/age.key, .*\/nobody\/.ssh\/id_ed25519 exists/);
  });
});
