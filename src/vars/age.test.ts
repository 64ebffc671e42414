// hive's age against the real `age` tool (Debian's): files either one writes, the other reads; age and SSH keys.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseOpenSshEd25519 } from "./age-ssh.js";
import { decryptWith, encryptFor, parseIdentity, parseRecipients } from "./age.js";

let dir: string;
const path = (name: string) => join(dir, name);

function run(command: string, args: string[], input?: Buffer): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 24 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr.toString()}`);
  return result.stdout;
}

/** Bytes that any text handling would damage: NUL, invalid UTF-8, CR, a trailing newline. */
const PAYLOAD = Buffer.concat([Buffer.from("secret\0\r\n\xff\xfe"), randomBytes(70_000), Buffer.from("\n")]);

let ageRecipient: string;
let sshRecipient: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-age-test-"));
  run("age-keygen", ["-o", path("age.key")]);
  ageRecipient = run("age-keygen", ["-y", path("age.key")]).toString().trim();
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ops@test", "-f", path("id_ed25519")]);
  sshRecipient = readFileSync(path("id_ed25519.pub"), "utf8").trim();
  run("age-keygen", ["-o", path("other.key")]);
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "hunter2", "-f", path("locked")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const identity = async (name: string) => parseIdentity(path(name), readFileSync(path(name), "utf8"));

describe("age interoperability", () => {
  it("`age -d` decrypts what hive encrypts, with the age identity and with the SSH key", async () => {
    const encrypted = await encryptFor(parseRecipients([ageRecipient, sshRecipient]), PAYLOAD);
    expect(encrypted.toString("latin1")).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    writeFileSync(path("by-hive.age"), encrypted);
    expect(run("age", ["-d", "-i", path("age.key"), path("by-hive.age")]).equals(PAYLOAD)).toBe(true);
    expect(run("age", ["-d", "-i", path("id_ed25519"), path("by-hive.age")]).equals(PAYLOAD)).toBe(true);
  });

  it("hive decrypts what `age` encrypts, binary or armored, for age and SSH recipients", async () => {
    for (const flags of [[], ["-a"]]) {
      const encrypted = run("age", ["-e", ...flags, "-r", ageRecipient, "-R", path("id_ed25519.pub")], PAYLOAD);
      expect(Buffer.from(await decryptWith(await identity("age.key"), encrypted)).equals(PAYLOAD)).toBe(true);
      expect(Buffer.from(await decryptWith(await identity("id_ed25519"), encrypted)).equals(PAYLOAD)).toBe(true);
    }
  });

  it("says which identity a file is not encrypted for, and when a file was altered", async () => {
    const encrypted = await encryptFor(parseRecipients([ageRecipient]), PAYLOAD);
    await expect(decryptWith(await identity("other.key"), encrypted)).rejects.toThrow(`is not encrypted for the identity ${path("other.key")}`);
    await expect(decryptWith(await identity("id_ed25519"), encrypted)).rejects.toThrow(/is not encrypted for the identity/);
    const binary = run("age", ["-e", "-r", ageRecipient], PAYLOAD);
    binary[binary.length - 100]! ^= 1;
    await expect(decryptWith(await identity("age.key"), binary)).rejects.toThrow(/^is damaged or was altered/);
    await expect(decryptWith(await identity("age.key"), Buffer.from("hello"))).rejects.toThrow("is not an age file");
  });

  it("reads identity files: several age keys with comments, SSH keys; refuses what it cannot use", async () => {
    const two = `# created: today\n${readFileSync(path("other.key"), "utf8")}\n${readFileSync(path("age.key"), "utf8")}`;
    const parsed = await parseIdentity("two", two);
    expect(parsed.identities).toHaveLength(2);
    expect(parsed.recipients).toContain(ageRecipient);
    expect((await identity("id_ed25519")).recipients).toEqual([sshRecipient.split(" ").slice(0, 2).join(" ")]);
    await expect(identity("locked")).rejects.toThrow(/protected by a passphrase/);
    await expect(parseIdentity("x", "# nothing\n")).rejects.toThrow("holds no key");
    await expect(parseIdentity("x", "AGE-PLUGIN-YUBIKEY-1XYZ\n")).rejects.toThrow(/plugin identities/);
    await expect(parseIdentity("x", "ssh-ed25519 AAAA\n")).rejects.toThrow(/neither an age identity file/);
    const rsa = path("id_rsa");
    run("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa]);
    expect(() => parseOpenSshEd25519(readFileSync(rsa, "utf8"))).toThrow("the SSH key is ssh-rsa; only ssh-ed25519 keys can decrypt age files here");
  });

  it("names the recipient that is not one", () => {
    expect(() => parseRecipients([ageRecipient, "age1notakey"])).toThrow(/^vars.recipients\[1\] is not a valid recipient/);
    expect(() => parseRecipients(["ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ=="])).toThrow(/^vars.recipients\[0\] is not a valid recipient/);
    expect(() => parseRecipients(["hello"])).toThrow("vars.recipients[0] is neither an age public key (age1...) nor an ssh-ed25519 public key");
  });
});
