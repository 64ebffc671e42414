// age encryption of vars: files for hive.ts's recipients, decrypted with the operator's identity, all in memory.
import { Decrypter, Encrypter, type Identity, armor, identityToRecipient } from "age-encryption";
import { SshEd25519Identity, SshEd25519Recipient } from "./age-ssh.js";

/** The recipients of hive.ts, parsed; throws naming the one that is not a recipient. */
export function parseRecipients(recipients: readonly string[]): (string | SshEd25519Recipient)[] {
  return recipients.map((text, i) => {
    const trimmed = text.trim();
    try {
      if (trimmed.startsWith("ssh-ed25519 ")) return new SshEd25519Recipient(trimmed);
      if (trimmed.startsWith("age1")) {
        // The library checks a recipient only when encrypting: try it now, with a throwaway key.
        new Encrypter().addRecipient(trimmed);
        return trimmed;
      }
    } catch (error) {
      throw new Error(`vars.recipients[${i}] is not a valid recipient: ${(error as Error).message}`);
    }
    throw new Error(`vars.recipients[${i}] is neither an age public key (age1...) nor an ssh-ed25519 public key`);
  });
}

/** Encrypts for every recipient, ASCII-armored (text in git, and `age -d` reads it as it is). */
export async function encryptFor(recipients: readonly (string | SshEd25519Recipient)[], plaintext: Uint8Array): Promise<Buffer> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return Buffer.from(armor.encode(await encrypter.encrypt(plaintext)));
}

/** An operator's identity, read from one file: age secret keys (one per line) or an OpenSSH ed25519 key. */
export interface AgeIdentity {
  /** Where it was read, for messages. */
  file: string;
  identities: (string | Identity)[];
  /** The recipient lines that match it, to tell whether hive.ts names this operator. */
  recipients: string[];
}

/** Parses an identity file's text; throws a message fit to follow "identity FILE: ". */
export async function parseIdentity(file: string, text: string): Promise<AgeIdentity> {
  if (text.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) {
    const identity = new SshEd25519Identity(text);
    return { file, identities: [identity], recipients: [identity.recipient()] };
  }
  const keys = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (keys.length === 0) throw new Error("holds no key");
  const unsupported = keys.find((k) => !k.startsWith("AGE-SECRET-KEY-"));
  if (unsupported !== undefined) {
    throw new Error(
      unsupported.startsWith("AGE-PLUGIN-")
        ? "age plugin identities (AGE-PLUGIN-...) are not supported; use an age or ssh-ed25519 key"
        : "is neither an age identity file (AGE-SECRET-KEY-1...) nor an unencrypted OpenSSH ed25519 key",
    );
  }
  return { file, identities: keys, recipients: await Promise.all(keys.map((k) => identityToRecipient(k))) };
}

/** Decrypts an age file (armored or binary); the message of a failure says why, never what. */
export async function decryptWith(identity: AgeIdentity, ciphertext: Uint8Array): Promise<Uint8Array> {
  const text = Buffer.from(ciphertext.subarray(0, 40)).toString("latin1");
  let binary: Uint8Array;
  try {
    binary = text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----") ? armor.decode(Buffer.from(ciphertext).toString("latin1")) : ciphertext;
  } catch {
    throw new Error("is not an age file (its armor is damaged)");
  }
  if (!Buffer.from(binary.subarray(0, 21)).toString("latin1").startsWith("age-encryption.org/v1")) throw new Error("is not an age file");
  const decrypter = new Decrypter();
  for (const id of identity.identities) decrypter.addIdentity(id);
  try {
    return await decrypter.decrypt(binary);
  } catch (error) {
    const message = (error as Error).message;
    if (/no identity matched/.test(message)) throw new Error(`is not encrypted for the identity ${identity.file}`);
    throw new Error(`is damaged or was altered (${message})`);
  }
}
