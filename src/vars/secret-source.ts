// A generated secret as a key's content: its age file decrypted in memory with the operator's identity.
import type { VarKeySource } from "../config/node-key.js";
import { decryptWith } from "./age.js";
import { VarsIdentityError } from "./errors.js";
import { loadIdentity } from "./identity.js";
import { readIfFile } from "./store.js";

/** The plaintext of a var; throws a message that says what is wrong and what to run, never the content. */
export async function readVarSecret(source: VarKeySource, env: Record<string, string | undefined>): Promise<Buffer> {
  const stored = await readIfFile(source.path);
  if (stored === null) throw new Error(`${source.path} has not been generated yet; run \`hive vars generate\``);
  let identity;
  try {
    identity = await loadIdentity(source.identity, env);
  } catch (error) {
    if (error instanceof VarsIdentityError) throw new Error(`${error.message} (${error.hint})`);
    throw error;
  }
  try {
    return Buffer.from(await decryptWith(identity, stored));
  } catch (error) {
    throw new Error(
      `${source.path} ${(error as Error).message}; if you should be able to read it, add your public key to vars.recipients ` +
        "and have someone who can run `hive vars generate` (it re-encrypts for the new recipients)",
    );
  }
}
