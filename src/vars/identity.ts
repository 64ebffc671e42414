// Where the operator's age identity comes from: $HIVE_AGE_IDENTITY, hive.ts `vars.identity`, then the defaults.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type AgeIdentity, parseIdentity } from "./age.js";
import { VarsIdentityError } from "./errors.js";
import { sha256 } from "./manifest.js";

type Env = Record<string, string | undefined>;

export interface IdentityCandidate {
  path: string;
  /** Why hive looks there, for messages. */
  from: string;
}

/** The files to try, in order: an explicit choice is the only candidate; otherwise the two defaults. */
export function identityCandidates(configured: string | undefined, env: Env): IdentityCandidate[] {
  const fromEnv = env["HIVE_AGE_IDENTITY"];
  if (fromEnv !== undefined && fromEnv !== "") return [{ path: fromEnv, from: "$HIVE_AGE_IDENTITY" }];
  if (configured !== undefined) return [{ path: configured, from: "vars.identity in hive.ts" }];
  const home = env["HOME"] ?? "";
  const config = env["XDG_CONFIG_HOME"] || join(home, ".config");
  return [
    { path: join(config, "hive", "age.key"), from: "the default" },
    { path: join(home, ".ssh", "id_ed25519"), from: "the default" },
  ];
}

const parsedIdentities = new Map<string, Promise<AgeIdentity>>();

/** Reads the first candidate that exists; an explicit one that is missing or unusable is an error naming it. */
export async function loadIdentity(configured: string | undefined, env: Env = process.env): Promise<AgeIdentity> {
  const candidates = identityCandidates(configured, env);
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && candidates.length > 1) continue;
      throw new VarsIdentityError(
        `cannot read the age identity ${candidate.path} (from ${candidate.from}): ${code === "ENOENT" ? "no such file" : (code ?? (error as Error).message)}`,
        IDENTITY_HINT,
      );
    }
    const cacheKey = `${candidate.path}\0${sha256(text)}`;
    try {
      // Parsed once per run and file content: apply reads every node's keys, each maybe a var.
      let parsed = parsedIdentities.get(cacheKey);
      if (parsed === undefined) parsedIdentities.set(cacheKey, (parsed = parseIdentity(candidate.path, text)));
      return await parsed;
    } catch (error) {
      parsedIdentities.delete(cacheKey);
      throw new VarsIdentityError(`age identity ${candidate.path} (from ${candidate.from}): ${(error as Error).message}`, IDENTITY_HINT);
    }
  }
  throw new VarsIdentityError(`no age identity to decrypt vars with: none of ${candidates.map((c) => c.path).join(", ")} exists`, IDENTITY_HINT);
}

const IDENTITY_HINT =
  "create one with `age-keygen -o ~/.config/hive/age.key` and add its public key (age-keygen -y) to vars.recipients, " +
  "or point $HIVE_AGE_IDENTITY (or vars.identity) at an age or unencrypted ssh-ed25519 key that is a recipient";
