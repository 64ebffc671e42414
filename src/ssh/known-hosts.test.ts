import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  appendKnownHost,
  fingerprintSha256,
  formatKnownHostsLine,
  hostKeyAlgorithmsFor,
  keyTypeLabel,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  readKeyType,
  readKnownHostsFiles,
  verifyHostKey,
} from "./known-hosts.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const FILE = join(fixtures, "known_hosts");
const { entries, problems } = parseKnownHosts(readFileSync(FILE, "utf8"), FILE);

/** The blob of a fixture public key (ssh-keygen output). */
function pub(name: string): Buffer {
  const [, base64] = readFileSync(join(fixtures, `${name}.pub`), "utf8").trim().split(/\s+/);
  return Buffer.from(base64 ?? "", "base64");
}

const ED_A = pub("ed_a");
const ED_B = pub("ed_b");
const ED_C = pub("ed_c");
const ED_D = pub("ed_d");
const RSA_A = pub("rsa_a");
const EC_A = pub("ec_a");

describe("parseKnownHosts", () => {
  it("reads plain, hashed, marked and bracketed entries with their line numbers", () => {
    expect(entries.map((e) => [e.line, e.marker ?? "", e.hashed ? "hashed" : e.patterns.join(","), e.keyType])).toEqual([
      [2, "", "plain.example,10.0.0.1", "ssh-ed25519"],
      [4, "", "[plain.example]:2222", "ssh-ed25519"],
      [6, "", "hashed", "ssh-ed25519"],
      [7, "", "hashed", "ssh-rsa"],
      [8, "", "multi.example", "ssh-rsa"],
      [9, "", "Multi.Example", "ecdsa-sha2-nistp256"],
      [10, "", "*.wild.example,!bad.wild.example", "ssh-ed25519"],
      [11, "revoked", "stolen.example", "ssh-ed25519"],
      [12, "", "stolen.example", "ssh-ed25519"],
      [13, "cert-authority", "*.example", "ssh-ed25519"],
    ]);
  });

  it("skips malformed lines and says where they are", () => {
    expect(problems).toEqual([`${FILE}:14: not a valid ssh-ed25519 key`, `${FILE}:15: an SSH-1 key, which OpenSSH no longer reads`]);
  });
});

describe("verifyHostKey", () => {
  it("matches a host in a comma-separated list, by name or address", () => {
    expect(verifyHostKey(entries, "plain.example", 22, ED_A)).toMatchObject({ status: "match", entry: { line: 2 } });
    expect(verifyHostKey(entries, "10.0.0.1", 22, ED_A)).toMatchObject({ status: "match" });
    expect(verifyHostKey(entries, "PLAIN.example", 22, ED_A)).toMatchObject({ status: "match" });
  });

  it("keeps ports apart: [host]:port entries only match that port", () => {
    expect(verifyHostKey(entries, "plain.example", 2222, ED_C)).toMatchObject({ status: "match", entry: { line: 4 } });
    expect(verifyHostKey(entries, "plain.example", 2222, ED_A)).toMatchObject({ status: "changed", entries: [{ line: 4 }] });
    expect(verifyHostKey(entries, "plain.example", 22, ED_C)).toMatchObject({ status: "changed", entries: [{ line: 2 }] });
    expect(verifyHostKey(entries, "plain.example", 2200, ED_A)).toEqual({ status: "unknown", knownTypes: [] });
  });

  it("matches entries hashed by ssh-keygen -H, on port 22 and in [host]:port form", () => {
    expect(verifyHostKey(entries, "hashed.example", 22, ED_B)).toMatchObject({ status: "match", entry: { line: 6 } });
    expect(verifyHostKey(entries, "hashed.example", 2222, RSA_A)).toMatchObject({ status: "match", entry: { line: 7 } });
    expect(verifyHostKey(entries, "hashed.example", 22, ED_A)).toMatchObject({ status: "changed" });
    expect(verifyHostKey(entries, "other.example", 22, ED_B)).toMatchObject({ status: "unknown" });
  });

  it("treats a key of a type not recorded for the host as unknown, not changed", () => {
    expect(verifyHostKey(entries, "multi.example", 22, ED_A)).toEqual({
      status: "unknown",
      knownTypes: ["ssh-rsa", "ecdsa-sha2-nistp256"],
    });
    expect(verifyHostKey(entries, "multi.example", 22, RSA_A)).toMatchObject({ status: "match", entry: { line: 8 } });
    expect(verifyHostKey(entries, "multi.example", 22, EC_A)).toMatchObject({ status: "match", entry: { line: 9 } });
  });

  it("honours wildcards and negated patterns", () => {
    expect(verifyHostKey(entries, "web.wild.example", 22, ED_D)).toMatchObject({ status: "match", entry: { line: 10 } });
    expect(verifyHostKey(entries, "bad.wild.example", 22, ED_D)).toMatchObject({ status: "unknown" });
    expect(verifyHostKey(entries, "wild.example", 22, ED_D)).toMatchObject({ status: "unknown" });
  });

  it("refuses @revoked keys even when a plain line lists the same key", () => {
    expect(verifyHostKey(entries, "stolen.example", 22, ED_B)).toMatchObject({ status: "revoked", entry: { line: 11 } });
  });

  it("ignores @cert-authority lines", () => {
    // *.example would otherwise match, with ED_A.
    expect(verifyHostKey(entries, "ca.example", 22, ED_A)).toEqual({ status: "unknown", knownTypes: [] });
  });
});

describe("host key algorithms", () => {
  it("lists the types known for a host, revoked keys excepted", () => {
    expect(knownKeyTypes(entries, "multi.example", 22)).toEqual(["ssh-rsa", "ecdsa-sha2-nistp256"]);
    expect(knownKeyTypes(entries, "hashed.example", 2222)).toEqual(["ssh-rsa"]);
    expect(knownKeyTypes(entries, "nowhere.example", 22)).toEqual([]);
  });

  it("offers the algorithms proving those types, in ssh2's order of preference", () => {
    expect(hostKeyAlgorithmsFor(["ssh-rsa"])).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(hostKeyAlgorithmsFor(["ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"])).toEqual([
      "ssh-ed25519",
      "ecdsa-sha2-nistp256",
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
    expect(hostKeyAlgorithmsFor(["sk-ssh-ed25519@openssh.com"])).toEqual([]);
  });
});

describe("keys and fingerprints", () => {
  it("prints fingerprints as ssh-keygen -l does", () => {
    // From `ssh-keygen -lf src/ssh/fixtures/<key>.pub`.
    expect(fingerprintSha256(ED_A)).toBe("SHA256:gk0WtAxstSHSGpjvPDpf4ctPCSzPfWIgOOSl5t9CXiI");
    expect(fingerprintSha256(RSA_A)).toBe("SHA256:L3ByeNK5i2pHUuKqbe/l+QImxSl6ufWcuUO3RD36Lh4");
    expect(fingerprintSha256(EC_A)).toBe("SHA256:3VzjAlKdbeI4s7v2jmoA3tE244Ra+CVbWMF8c9w077g");
  });

  it("names key types", () => {
    expect(readKeyType(ED_A)).toBe("ssh-ed25519");
    expect(readKeyType(Buffer.from("garbage"))).toBeUndefined();
    expect(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp384", "ssh-dss"].map(keyTypeLabel)).toEqual(["ED25519", "RSA", "ECDSA", "DSA"]);
  });

  it("formats lines with [host]:port only off port 22", () => {
    expect(knownHostsName("h", 22)).toBe("h");
    expect(knownHostsName("h", 2222)).toBe("[h]:2222");
    expect(formatKnownHostsLine("10.0.0.1", 22, ED_A)).toBe(`10.0.0.1 ssh-ed25519 ${ED_A.toString("base64")}`);
  });
});

describe("appendKnownHost", () => {
  it("creates the file and directory, keeps lines apart, and the result verifies", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-kh-"));
    const file = join(dir, "new", "known_hosts");
    await appendKnownHost(file, "127.0.0.1", 2222, ED_A);
    writeFileSync(file, `${readFileSync(file, "utf8")}# no newline at end`);
    await appendKnownHost(file, "h.example", 22, RSA_A);
    expect(readFileSync(file, "utf8").split("\n")).toEqual([
      `[127.0.0.1]:2222 ssh-ed25519 ${ED_A.toString("base64")}`,
      "# no newline at end",
      `h.example ssh-rsa ${RSA_A.toString("base64")}`,
      "",
    ]);
    const read = await readKnownHostsFiles([join(dir, "missing"), file]);
    expect(verifyHostKey(read, "127.0.0.1", 2222, ED_A)).toMatchObject({ status: "match", entry: { file, line: 1 } });
    expect(verifyHostKey(read, "h.example", 22, RSA_A)).toMatchObject({ status: "match", entry: { line: 3 } });
  });
});
