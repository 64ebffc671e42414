// Drives one supervised activation from the deployer: launch, follow its log until activation
// ends, then hand the decision (confirm over a new connection, or reject) to the caller, and
// report what the node finally runs. Every wait has a deadline.
import { randomBytes } from "node:crypto";
import { NodeOperationError } from "../errors.js";
import type { NodeState } from "../node/facts.js";
import type { NodeShell } from "../node/shell.js";
import { LineSplitter } from "../util/line-splitter.js";
import { LOCK_LOST_EXIT, LockLostError, describeLockLostLine } from "./lock.js";
import {
  type SupervisorOptions,
  type SupervisorPoll,
  type SupervisorResult,
  confirmScript,
  launchScript,
  parsePoll,
  pollScript,
  rejectScript,
} from "./supervisor.js";

export interface ActivationRun {
  /**
   * The supervisor's final word; `awaiting-decision` while it waits for hive's confirm or reject;
   * `lost` when hive could not follow it to the end (problem says what is known).
   */
  result: SupervisorResult | "awaiting-decision" | "lost";
  activationExit: number | null;
  prevGeneration: number | null;
  prevSystem: string | null;
  newGeneration: number | null;
  /** Why hive could not follow or decide the activation, when it could not. */
  problem?: string;
  /** The node's state as last read, right after the supervisor's final word when there is one. */
  state: NodeState;
  id: string;
}

/** An activation that ended and waits for hive's decision (result `awaiting-decision`). */
export interface Activation {
  readonly run: ActivationRun;
  /** Confirm over a new connection (proof the node is still reachable); the final run. `note`: why it is kept despite a failure. */
  confirm(note?: { code: string; message: string }): Promise<ActivationRun>;
  /** Make the supervisor return to the previous system now, for `reason` (logged in the node's events); the final run. */
  reject(reason?: { code: string; message: string }): Promise<ActivationRun>;
}

export interface ActivationHooks {
  onLine?: (line: string) => void;
  /** Prepended to the launch (lockGuardScript): the launch is refused once this run lost its lock. */
  guard?: string;
  /** How long activation (and a revert) may take before hive stops waiting; default 600 s. */
  timeoutMs?: number;
}

/** How long one poll waits on the node for activation to end before reporting progress. */
const POLL_WAIT_SECONDS = 2;
/** A poll's own deadline: its wait plus room for a slow link. */
const POLL_TIMEOUT_MS = (POLL_WAIT_SECONDS + 10) * 1000;
const DEFAULT_TIMEOUT_MS = 600_000;

export function newActivationId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export async function runSupervisedActivation(
  shell: NodeShell,
  options: Omit<SupervisorOptions, "id">,
  recordJson: string,
  hooks: ActivationHooks = {},
): Promise<Activation> {
  const id = newActivationId();
  const timeoutMs = hooks.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const follower = new LogFollower(hooks.onLine);
  let last: SupervisorPoll | undefined;
  const runOf = (p: SupervisorPoll, result: ActivationRun["result"], problem?: string): ActivationRun => ({
    result,
    activationExit: p.activationExit,
    prevGeneration: p.prevGeneration,
    prevSystem: p.prevSystem,
    newGeneration: p.newGeneration,
    state: p.state,
    id,
    ...(problem === undefined ? {} : { problem }),
  });
  const selfDecides =
    options.confirmTimeout > 0
      ? `it returns to its previous system by itself ${options.confirmTimeout} s after activation ends unless hive confirms`
      : "its final state is unknown until hive can read it (hive status)";
  const lost = (why: string): ActivationRun => runOf(last ?? parsePoll("", options.profile), "lost", `${why}; ${selfDecides}`);
  const poll = (settled: "activation" | "result", waitSeconds = POLL_WAIT_SECONDS) =>
    pollScript(id, follower.offset, waitSeconds, settled, options.profile);

  /** Poll until `settled`, the supervisor's death, or the deadline; returns the final run or the poll that settled. */
  const follow = async (settled: "activation" | "result", first: SupervisorPoll | null): Promise<SupervisorPoll | ActivationRun> => {
    const deadline = Date.now() + timeoutMs;
    let current = first;
    for (;;) {
      if (current !== null) {
        last = current;
        follower.take(current);
        if (current.result !== null) return current;
        if (settled === "activation" && current.activationExit !== null) return current;
        if (!current.supervisorAlive) {
          return runOf(current, "lost", "the activation's supervisor on the node ended without a result (killed, e.g. by the OOM killer, or /run is full); the node may run either system: check it with hive status");
        }
      }
      if (Date.now() > deadline) return lost(`the activation did not finish within ${Math.round(timeoutMs / 1000)} s; hive stopped waiting`);
      try {
        const polled = await shell.runAsRoot(poll(settled), { timeoutMs: POLL_TIMEOUT_MS });
        if (polled.timedOut) throw new Error(`the node did not answer for ${POLL_TIMEOUT_MS / 1000} s`);
        if (polled.exitCode !== 0) throw new Error(polled.stderr.trim() || `exit ${polled.exitCode}`);
        current = parsePoll(polled.stdout, options.profile);
      } catch (error) {
        return lost(`lost the node during activation (${(error as Error).message})`);
      }
    }
  };
  const finalRun = (p: SupervisorPoll | ActivationRun): ActivationRun => {
    follower.flush();
    return "id" in p ? p : runOf(p, p.result ?? "lost");
  };

  // Launch, then wait on the node for the activation to end: one round trip.
  let launched: Awaited<ReturnType<NodeShell["runAsRoot"]>>;
  try {
    const launch = `${launchScript({ ...options, id }, recordJson)}\n${poll("activation")}`;
    launched = await shell.runAsRoot(hooks.guard === undefined ? launch : `${hooks.guard}\n${launch}`, { timeoutMs: 60_000 + POLL_TIMEOUT_MS });
  } catch (error) {
    return settledActivation(lost(`lost the node while starting the activation (${(error as Error).message})`)); // it may have started: the node decides by itself
  }
  if (launched.timedOut) return settledActivation(lost("the node did not answer while starting the activation"));
  if (launched.exitCode === LOCK_LOST_EXIT) throw new LockLostError(describeLockLostLine(launched.stdout.split("\n")[0] ?? ""));
  if (launched.exitCode !== 0 || !launched.stdout.startsWith("started\n")) {
    throw new NodeOperationError(`could not start the activation: ${launched.stderr.trim() || `exit ${launched.exitCode}`}`, "E_ACTIVATION_START");
  }
  const ended = await follow("activation", parsePoll(launched.stdout, options.profile));
  if ("id" in ended || ended.result !== null || ended.activationExit !== 0 || options.confirmTimeout === 0) {
    // Failed, or nothing to decide: wait for the supervisor's own final word.
    const done = "id" in ended || ended.result !== null ? ended : await follow("result", null);
    return settledActivation(finalRun(done));
  }

  const waiting = runOf(ended, "awaiting-decision");
  const decide = async (script: string, connection: "new" | "same"): Promise<ActivationRun> => {
    let answer;
    try {
      const run = `${script}\n${poll("result", 0)}`;
      answer = connection === "new"
        ? await shell.runAsRootOnNewConnection(run, { timeoutMs: (options.confirmTimeout + POLL_WAIT_SECONDS) * 1000 })
        : await shell.runAsRoot(run, { timeoutMs: POLL_TIMEOUT_MS });
    } catch (error) {
      return finalRun(lost(`could not reach the node to ${connection === "new" ? "confirm" : "reject"} the activation (${(error as Error).message})`));
    }
    const accepted = answer.exitCode === 0 && /^(confirmed|rejected)\n/.test(answer.stdout);
    if (accepted && answer.stdout.startsWith("confirmed\n")) hooks.onLine?.("hive: confirmed over a new connection");
    if (!accepted) hooks.onLine?.(`hive: the node had decided already: ${answer.stdout.split("\n")[0] ?? ""}`);
    const after = parsePoll(answer.stdout.slice(answer.stdout.indexOf("\n") + 1), options.profile);
    // Once hive holds the decision to confirm, the supervisor changes nothing more: the state read
    // with the claim is final. A rejection (or a decision hive lost) is followed to the end.
    if (accepted && answer.stdout.startsWith("confirmed\n")) {
      follower.take(after);
      return finalRun({ ...after, result: "confirmed" });
    }
    return finalRun(await follow("result", after));
  };
  return {
    run: waiting,
    confirm: (note) => decide(confirmScript(id, note), "new"),
    reject: (reason) => decide(rejectScript(id, reason), "same"),
  };
}

/** An activation that needs no decision: confirming or rejecting it changes nothing. */
function settledActivation(run: ActivationRun): Activation {
  return { run, confirm: async () => run, reject: async () => run };
}

/** Turns the supervisor's log, read by byte offset across polls, into whole lines. */
class LogFollower {
  offset = 0;
  private readonly lines: LineSplitter;

  constructor(onLine: ((line: string) => void) | undefined) {
    this.lines = new LineSplitter((line) => onLine?.(line));
  }

  take(poll: SupervisorPoll): void {
    this.lines.push(poll.newLog);
    // What `tail -c +offset` printed is exactly the bytes past the offset (the log may have grown
    // since the poll measured its size).
    this.offset += Buffer.byteLength(poll.newLog);
  }

  flush(): void {
    this.lines.end();
  }
}
