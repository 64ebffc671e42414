// OpenSSH known_hosts: parse, match a host (plain, wildcard, hashed, [host]:port), verify a key, record a new one.
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ServerHostKeyAlgorithm } from "ssh2";

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  /** 1-based. */
  line: number;
  marker?: "revoked" | "cert-authority";
  /** Host patterns (`*`, `?`, `!negated`, `[host]:port`); empty for a hashed entry. */
  patterns: string[];
  /** A `|1|salt|hash` entry: HMAC-SHA1 of the host name keyed by the salt. */
  hashed?: { salt: Buffer; hash: Buffer };
  /** The key's type as its blob names it: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ... */
  keyType: string;
  /** The public key blob (the base64 field, decoded). */
  key: Buffer;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines that are neither blank, comments nor valid key lines; OpenSSH skips them too. */
  problems: string[];
}

/** Parse the text of one known_hosts file. */
export function parseKnownHosts(text: string, file: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const name = fields.shift();
      if (name !== "@revoked" && name !== "@cert-authority") {
        problems.push(`${file}:${line}: unknown marker ${name}`);
        return;
      }
      marker = name === "@revoked" ? "revoked" : "cert-authority";
    }
    const [hosts, type, base64] = fields;
    if (hosts === undefined || type === undefined || base64 === undefined) {
      problems.push(`${file}:${line}: expected hosts, key type and key`);
      return;
    }
    if (/^\d+$/.test(type)) {
      problems.push(`${file}:${line}: an SSH-1 key, which OpenSSH no longer reads`);
      return;
    }
    const key = Buffer.from(base64, "base64");
    const keyType = readKeyType(key);
    if (keyType === undefined || keyType !== type || !/^[A-Za-z0-9+/]+=*$/.test(base64)) {
      problems.push(`${file}:${line}: not a valid ${type} key`);
      return;
    }
    const entry: KnownHostEntry = { file, line, patterns: [], keyType, key };
    if (marker !== undefined) entry.marker = marker;
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(hosts);
    if (hashed) {
      entry.hashed = { salt: Buffer.from(hashed[1] ?? "", "base64"), hash: Buffer.from(hashed[2] ?? "", "base64") };
    } else {
      entry.patterns = hosts.split(",").filter((p) => p !== "");
    }
    entries.push(entry);
  });
  return { entries, problems };
}

/** Read and parse known_hosts files in order; missing or unreadable files count as empty, as in OpenSSH. */
export async function readKnownHostsFiles(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    all.push(...parseKnownHosts(text, file).entries);
  }
  return all;
}

/** Whether an entry's host field names this host and port (ignores the marker). */
export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host.toLowerCase(), port);
  if (entry.hashed) {
    const { salt, hash } = entry.hashed;
    return createHmac("sha1", salt).update(name).digest().equals(hash);
  }
  let matched = false;
  for (const pattern of entry.patterns) {
    const negated = pattern.startsWith("!");
    if (matchesWildcard(name, (negated ? pattern.slice(1) : pattern).toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** OpenSSH pattern matching: `*` any run, `?` any one character, everything else literal. */
function matchesWildcard(name: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return name === pattern;
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "s").test(name);
}

/** Key lines (not @cert-authority) whose host field matches, @revoked ones included. */
export function findKnownHostEntries(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  return entries.filter((e) => e.marker !== "cert-authority" && entryMatchesHost(e, host, port));
}

/** Key types recorded for this host (not counting revoked keys), in file order. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types = findKnownHostEntries(entries, host, port)
    .filter((e) => e.marker === undefined)
    .map((e) => e.keyType);
  return [...new Set(types)];
}

/** ssh2's host key algorithms in its order of preference, and the key type each one proves. */
const HOST_KEY_ALGORITHMS: readonly [ServerHostKeyAlgorithm, string][] = [
  ["ssh-ed25519", "ssh-ed25519"],
  ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"],
  ["ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"],
  ["ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"],
  ["rsa-sha2-512", "ssh-rsa"],
  ["rsa-sha2-256", "ssh-rsa"],
  ["ssh-rsa", "ssh-rsa"],
  ["ssh-dss", "ssh-dss"],
];

/**
 * Host key algorithms to offer when these key types are known, so the server proves a key we can
 * check instead of one we have never seen. Empty when none is usable: then offer ssh2's defaults.
 */
export function hostKeyAlgorithmsFor(keyTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  return HOST_KEY_ALGORITHMS.filter(([, type]) => keyTypes.includes(type)).map(([algorithm]) => algorithm);
}

export type HostKeyVerdict =
  | { status: "match"; entry: KnownHostEntry }
  | { status: "unknown"; knownTypes: string[] }
  | { status: "changed"; knownTypes: string[]; entries: KnownHostEntry[] }
  | { status: "revoked"; entry: KnownHostEntry };

/**
 * Check a presented host key against known_hosts entries. A key of a type that has no entry for
 * the host is unknown, not changed, as in OpenSSH: only a different key of a known type is changed.
 */
export function verifyHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const matching = findKnownHostEntries(entries, host, port);
  const revoked = matching.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const plain = matching.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: "match", entry: same };
  const knownTypes = [...new Set(plain.map((e) => e.keyType))];
  const keyType = readKeyType(key);
  const sameType = plain.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) return { status: "changed", knownTypes, entries: sameType };
  return { status: "unknown", knownTypes };
}

/** The type named at the start of an SSH public key blob, or undefined if it is not one. */
export function readKeyType(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || key.length < 4 + length) return undefined;
  const type = key.subarray(4, 4 + length).toString("latin1");
  return /^[a-z0-9@.-]+$/.test(type) ? type : undefined;
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64, as `ssh-keygen -l` prints it. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The label OpenSSH shows for a key type: ED25519, RSA, ECDSA, DSA. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === "ssh-ed25519") return "ED25519";
  if (keyType === "ssh-rsa") return "RSA";
  if (keyType === "ssh-dss") return "DSA";
  if (keyType.startsWith("ecdsa-sha2-")) return "ECDSA";
  if (keyType.startsWith("sk-ssh-ed25519")) return "ED25519-SK";
  if (keyType.startsWith("sk-ecdsa-")) return "ECDSA-SK";
  return keyType;
}

/** A known_hosts line for a key (no trailing newline): `host type base64`, `[host]:port` when port is not 22. */
export function formatKnownHostsLine(host: string, port: number, key: Buffer): string {
  const keyType = readKeyType(key);
  if (keyType === undefined) throw new Error("not an SSH public key blob");
  return `${knownHostsName(host, port)} ${keyType} ${key.toString("base64")}`;
}

/** Append a key to a known_hosts file, creating it (and a missing directory, mode 0700) if needed. */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let existing = "";
  try {
    existing = await readFile(file, "utf8");
  } catch {
    // A new file.
  }
  const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
  await appendFile(file, `${separator}${formatKnownHostsLine(host, port, key)}\n`, { mode: 0o644 });
}

/** Appends in flight or done in this process, by file and line: two nodes on one host record its key once. */
const recordings = new Map<string, Promise<void>>();

export function recordHostKey(file: string, host: string, port: number, key: Buffer): Promise<void> {
  const id = `${file}\n${formatKnownHostsLine(host, port, key)}`;
  let pending = recordings.get(id);
  if (pending === undefined) {
    pending = appendKnownHost(file, host, port, key);
    recordings.set(id, pending);
    pending.catch(() => recordings.delete(id));
  }
  return pending;
}
