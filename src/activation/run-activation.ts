// Drives one supervised activation from the deployer: launch, follow its log, confirm over a new
// connection, and report what the node finally runs.
import { randomBytes } from "node:crypto";
import type { Host } from "../host/host.js";
import type { NodeState } from "./scripts.js";
import { NodeOperationError } from "../errors.js";
import {
  type SupervisorOptions,
  type SupervisorPoll,
  type SupervisorResult,
  confirmScript,
  launchScript,
  parsePoll,
  pollScript,
} from "./supervisor.js";

export interface ActivationRun {
  /** The supervisor's final word, or what hive could establish when it lost the node. */
  result: SupervisorResult | "unconfirmed" | "lost";
  activationExit: number | null;
  prevGeneration: number | null;
  prevSystem: string | null;
  newGeneration: number | null;
  /** Why hive could not confirm or follow the activation, when it could not. */
  problem?: string;
  /** The node's state as last read, right after the supervisor's final word when there is one. */
  state: NodeState;
  id: string;
}

export interface ActivationHooks {
  onLine?: (line: string) => void;
}

/** How long one poll waits on the node for activation to end before reporting progress. */
const POLL_WAIT_SECONDS = 2;

export function newActivationId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export async function runSupervisedActivation(
  host: Host,
  options: Omit<SupervisorOptions, "id">,
  recordJson: string,
  hooks: ActivationHooks = {},
): Promise<ActivationRun> {
  const id = newActivationId();
  let offset = 0;
  let last: SupervisorPoll | undefined;
  let pending = "";
  const emit = (text: string) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) hooks.onLine?.(line);
  };
  const run = (p: SupervisorPoll, result: ActivationRun["result"], problem?: string): ActivationRun => ({
    result,
    activationExit: p.activationExit,
    prevGeneration: p.prevGeneration,
    prevSystem: p.prevSystem,
    newGeneration: p.newGeneration,
    state: p.state,
    id,
    ...(problem === undefined ? {} : { problem }),
  });
  const poll = (settled: "activation" | "result") => pollScript(id, offset, POLL_WAIT_SECONDS, settled, options.profile);
  const lost = (error: unknown): ActivationRun =>
    run(
      last ?? parsePoll(""),
      "lost",
      `lost the node during activation (${(error as Error).message}); ` +
        (options.confirmTimeout > 0
          ? `it returns to its previous system by itself ${options.confirmTimeout} s after activation ends unless confirmed`
          : "its final state is unknown"),
    );

  // Launch, then wait on the node for the activation to end: one round trip.
  let launched: Awaited<ReturnType<Host["runAsRoot"]>>;
  try {
    launched = await host.runAsRoot(`${launchScript({ ...options, id }, recordJson)}\n${poll("activation")}`, {
      timeoutMs: (60 + POLL_WAIT_SECONDS) * 1000,
    });
  } catch (error) {
    return lost(error); // it may have started: the node decides by itself
  }
  if (launched.timedOut) return lost(new Error(`the node did not answer for ${60 + POLL_WAIT_SECONDS} s`));
  if (launched.exitCode !== 0 || !launched.stdout.startsWith("started\n")) {
    throw new NodeOperationError(`could not start the activation: ${launched.stderr.trim() || `exit ${launched.exitCode}`}`, "E_ACTIVATION_START");
  }
  let current = parsePoll(launched.stdout);
  for (;;) {
    last = current;
    if (current.newLog !== "") emit(current.newLog);
    offset = current.logSize;
    if (current.result !== null) {
      if (pending !== "") emit("\n");
      return run(current, current.result);
    }
    if (current.activationExit === 0 && options.confirmTimeout > 0) {
      // Confirm over a new connection (proof that the node is reachable on its new system). Once
      // hive holds the decision the supervisor changes nothing more, so the state read right after
      // it is final: no waiting for the supervisor's own last word.
      try {
        const answer = await host.runAsRootOnNewConnection(`${confirmScript(id)}\n${pollScript(id, offset, 0, "result", options.profile)}`, {
          timeoutMs: (options.confirmTimeout + POLL_WAIT_SECONDS) * 1000,
        });
        if (answer.exitCode !== 0 || !answer.stdout.startsWith("confirmed\n")) {
          return run(current, "unconfirmed", `the node did not accept the confirmation: ${answer.stdout.split("\n")[0] ?? ""}`.trim());
        }
        hooks.onLine?.("hive: confirmed over a new connection");
        const after = parsePoll(answer.stdout);
        if (after.newLog !== "") emit(after.newLog);
        if (pending !== "") emit("\n");
        return run(after, "confirmed");
      } catch (error) {
        return run(current, "unconfirmed", `could not confirm over a new connection (${(error as Error).message}); the node returns to its previous system by itself`);
      }
    }
    try {
      // Once activation has ended (without a confirmation to give), only the supervisor's final word is awaited.
      const polled = await host.runAsRoot(poll(current.activationExit !== null ? "result" : "activation"), {
        timeoutMs: (POLL_WAIT_SECONDS + 10) * 1000,
      });
      if (polled.timedOut) throw new Error(`the node did not answer for ${POLL_WAIT_SECONDS + 10} s`);
      if (polled.exitCode !== 0) throw new Error(polled.stderr.trim() || `exit ${polled.exitCode}`);
      current = parsePoll(polled.stdout);
    } catch (error) {
      return lost(error);
    }
  }
}
