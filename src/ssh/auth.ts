// Client authentication: ssh-agent first, then each identity file, as OpenSSH tries them.
import { readFile } from "node:fs/promises";
import type { AnyAuthMethod, AuthHandlerMiddleware, AuthenticationType } from "ssh2";
import ssh2 from "ssh2";

/** An identity file as read from disk; `problem` says why it cannot be offered. */
export interface IdentityFile {
  file: string;
  key?: Buffer;
  problem?: string;
}

/** Read and check private keys; missing, unreadable and passphrase-protected ones get a problem, not an error. */
export async function loadIdentityFiles(files: readonly string[]): Promise<IdentityFile[]> {
  return Promise.all(
    files.map(async (file): Promise<IdentityFile> => {
      let key: Buffer;
      try {
        key = await readFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return { file, problem: code === "ENOENT" ? "missing" : `unreadable: ${code ?? String(error)}` };
      }
      const parsed = ssh2.utils.parseKey(key);
      if (parsed instanceof Error) {
        return {
          file,
          problem: /passphrase|encrypted/i.test(parsed.message) ? "needs a passphrase; add it to ssh-agent instead" : `not a private key: ${parsed.message}`,
        };
      }
      const first = Array.isArray(parsed) ? (parsed as unknown[])[0] : parsed;
      if (first === undefined || !(first as { isPrivateKey(): boolean }).isPrivateKey()) return { file, problem: "not a private key" };
      return { file, key };
    }),
  );
}

/** What was tried, for SshAuthError; agent problems are appended to the agent's entry. */
export class AuthAttempts {
  readonly tried: string[] = [];
  private agentIndex: number | undefined;

  noteAgent(label: string): void {
    this.agentIndex = this.tried.length;
    this.tried.push(label);
  }

  noteAgentProblem(message: string): void {
    if (this.agentIndex === undefined) return;
    this.tried[this.agentIndex] += ` (${message})`;
  }
}

/** An ssh2 auth handler offering the agent (if any), then each usable identity file, then giving up. */
export function makeAuthHandler(
  user: string,
  agent: string | undefined,
  identities: readonly IdentityFile[],
  attempts: AuthAttempts,
): AuthHandlerMiddleware {
  const steps: { label: string; agent: boolean; method: AnyAuthMethod }[] = [];
  if (agent !== undefined && agent !== "") {
    steps.push({ label: `agent ${agent}`, agent: true, method: { type: "agent", username: user, agent } });
  }
  for (const identity of identities) {
    if (identity.key !== undefined) {
      steps.push({ label: `key ${identity.file}`, agent: false, method: { type: "publickey", username: user, key: identity.key } });
    }
  }
  // ssh2 accepts `false` to stop; its types do not say so.
  return (methodsLeft: AuthenticationType[] | null, _partialSuccess, next) => {
    const done = next as (method: AnyAuthMethod | false) => void;
    const step = steps.shift();
    if (step === undefined || (methodsLeft !== null && !methodsLeft.includes("publickey"))) return done(false);
    if (step.agent) attempts.noteAgent(step.label);
    else attempts.tried.push(step.label);
    done(step.method);
  };
}
