// age's ssh-ed25519 recipient type, which the age-encryption package lacks: SSH keys as recipients and identities.
//
// As specified by age (agessh): the Ed25519 key is converted to X25519, the X25519 shared secret is
// tweaked with an HKDF of the SSH public key, and the file key is wrapped with ChaCha20-Poly1305
// under an HKDF of that secret. Checked against the real `age` tool in both directions (age.test.ts).
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { type Identity, type Recipient, Stanza } from "age-encryption";

const LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
const KEY_TYPE = "ssh-ed25519";

/** An SSH ed25519 public key: `ssh-ed25519 AAAA... comment`. */
export class SshEd25519Recipient implements Recipient {
  readonly #wire: Uint8Array;
  readonly #theirs: Uint8Array;

  constructor(line: string) {
    const [type, blob] = line.trim().split(/\s+/);
    if (type !== KEY_TYPE || blob === undefined) throw new Error(`not an ${KEY_TYPE} public key`);
    this.#wire = new Uint8Array(Buffer.from(blob, "base64"));
    this.#theirs = ed25519.utils.toMontgomery(publicKeyOfWire(this.#wire));
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = x25519.utils.randomSecretKey();
    const share = x25519.scalarMultBase(ephemeral);
    const secret = tweak(this.#wire, nonZero(x25519.scalarMult(ephemeral, this.#theirs)));
    const key = hkdf(sha256, secret, concat(share, this.#theirs), LABEL, 32);
    const body = chacha20poly1305(key, new Uint8Array(12)).encrypt(fileKey);
    return [new Stanza([KEY_TYPE, fingerprint(this.#wire), b64(share)], body)];
  }
}

/** The private half, from an unencrypted OpenSSH private key file. */
export class SshEd25519Identity implements Identity {
  readonly #wire: Uint8Array;
  readonly #scalar: Uint8Array;
  readonly #ours: Uint8Array;

  constructor(pem: string) {
    const { publicWire, seed } = parseOpenSshEd25519(pem);
    this.#wire = publicWire;
    this.#scalar = sha512(seed).slice(0, 32);
    seed.fill(0);
    this.#ours = ed25519.utils.toMontgomery(publicKeyOfWire(publicWire));
  }

  /** The matching recipient line, to check the identity is among a file's recipients. */
  recipient(): string {
    return `${KEY_TYPE} ${Buffer.from(this.#wire).toString("base64")}`;
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== KEY_TYPE) continue;
      if (stanza.args.length !== 3) throw new Error(`invalid ${KEY_TYPE} stanza`);
      if (stanza.args[1] !== fingerprint(this.#wire)) continue;
      const share = new Uint8Array(Buffer.from(stanza.args[2]!, "base64"));
      if (share.length !== 32 || stanza.body.length !== 32) throw new Error(`invalid ${KEY_TYPE} stanza`);
      const secret = tweak(this.#wire, nonZero(x25519.scalarMult(this.#scalar, share)));
      const key = hkdf(sha256, secret, concat(share, this.#ours), LABEL, 32);
      try {
        return chacha20poly1305(key, new Uint8Array(12)).decrypt(stanza.body);
      } catch {
        // Same fingerprint, other key (4 bytes collide): not ours.
        continue;
      }
    }
    return null;
  }
}

/** X25519(HKDF(salt = the SSH public key), shared secret), as agessh does. */
function tweak(wire: Uint8Array, shared: Uint8Array): Uint8Array {
  const scalar = hkdf(sha256, new Uint8Array(0), wire, LABEL, 32);
  return x25519.scalarMult(scalar, shared);
}

function nonZero(point: Uint8Array): Uint8Array {
  if (point.every((b) => b === 0)) throw new Error("invalid X25519 point (all zero)");
  return point;
}

/** The first 4 bytes of SHA-256 of the wire-format public key, unpadded base64. */
function fingerprint(wire: Uint8Array): string {
  return b64(sha256(wire).slice(0, 4));
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads SSH wire strings (uint32 length, bytes) one after the other. */
class WireReader {
  #offset = 0;
  constructor(readonly bytes: Uint8Array) {}
  string(): Uint8Array {
    if (this.#offset + 4 > this.bytes.length) throw new Error("truncated key");
    const length = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.#offset, 4).getUint32(0);
    this.#offset += 4;
    if (this.#offset + length > this.bytes.length) throw new Error("truncated key");
    const value = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
  text(): string {
    return Buffer.from(this.string()).toString("latin1");
  }
  uint32(): number {
    if (this.#offset + 4 > this.bytes.length) throw new Error("truncated key");
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.#offset, 4).getUint32(0);
    this.#offset += 4;
    return value;
  }
}

/** The 32-byte Ed25519 key inside a wire-format `ssh-ed25519` public key. */
function publicKeyOfWire(wire: Uint8Array): Uint8Array {
  const reader = new WireReader(wire);
  const type = reader.text();
  const key = reader.string();
  if (type !== KEY_TYPE || key.length !== 32) throw new Error(`not an ${KEY_TYPE} public key`);
  return key;
}

/** The public key (wire format) and seed of an unencrypted `openssh-key-v1` ed25519 private key. */
export function parseOpenSshEd25519(pem: string): { publicWire: Uint8Array; seed: Uint8Array } {
  const match = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem);
  if (match === null) throw new Error("not an OpenSSH private key");
  const bytes = new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
  const magic = new TextEncoder().encode("openssh-key-v1\0");
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error("not an openssh-key-v1 private key");
  const reader = new WireReader(bytes.subarray(magic.length));
  const cipher = reader.text();
  reader.text(); // kdf name
  reader.string(); // kdf options
  if (cipher !== "none") throw new Error("the SSH key is protected by a passphrase, which hive cannot ask for; use an age identity (age-keygen) or an unencrypted key");
  if (reader.uint32() !== 1) throw new Error("the file holds more than one key");
  const publicWire = new Uint8Array(reader.string());
  const secret = new WireReader(reader.string());
  if (secret.uint32() !== secret.uint32()) throw new Error("corrupt private key (check bytes differ)");
  const type = secret.text();
  if (type !== KEY_TYPE) throw new Error(`the SSH key is ${type}; only ${KEY_TYPE} keys can decrypt age files here`);
  secret.string(); // public key
  const both = secret.string(); // seed || public key
  if (both.length !== 64) throw new Error("corrupt ed25519 private key");
  const seed = new Uint8Array(both.subarray(0, 32));
  bytes.fill(0);
  return { publicWire, seed };
}
