// Plans a deployment (pure) and carries it out: evaluate, build, push, activate, verify, per node.
import { hostname, userInfo } from "node:os";
import pLimit from "p-limit";
import type { Hive, Node } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import { parseFailedUnits } from "../activation/scripts.js";
import type { DeploymentRecord, Host } from "../host/host.js";
import { buildSystems } from "../nix/build.js";
import { DEFAULT_EVAL_NODE_LIMIT, evaluateSystems } from "../nix/eval.js";
import { readFlakeRevision } from "../nix/flake-revision.js";
import type { ProcessRunner } from "../nix/runner.js";
import type { Reporter } from "../report/events.js";
import type { NodeResult } from "../report/results.js";
import { selectNodes } from "../selection/selector.js";
import { type Goal, goalActivates, goalSetsProfile } from "./goal.js";

export interface ApplyOptions {
  goal: Goal;
  on?: string;
  /** Nodes pushed and activated at once; default meta.parallel. */
  parallel?: number;
  evalNodeLimit?: number;
  showTrace?: boolean;
  /** Build every selected node on itself, whatever hive.ts says. */
  buildOnTarget?: boolean;
  keepResult?: boolean;
  substitute?: boolean;
  reactivate?: boolean;
  maxJobs?: number;
}

export interface PlannedNode {
  name: string;
  buildOnTarget: boolean;
}

/** A deployment as data: what will be done to which nodes, before anything is done. */
export interface ApplyPlan {
  goal: Goal;
  flake: string;
  nodes: PlannedNode[];
  parallel: number;
  evalNodeLimit: number;
  showTrace: boolean;
  keepResult: boolean;
  substitute: boolean;
  reactivate: boolean;
  maxJobs: number | undefined;
  machinesFile: string | undefined;
}

export function planApply(hive: Hive, options: ApplyOptions): ApplyPlan {
  if (options.on === undefined && !hive.meta.allowApplyAll && options.goal !== "build") {
    throw new UsageError(
      "hive.ts sets meta.allowApplyAll = false: deploying to every node needs an explicit selection",
      "pass --on SELECTOR (e.g. --on @server), or set meta.allowApplyAll to true",
    );
  }
  const nodes = selectNodes(hive.nodes, options.on);
  const positive = (value: number | undefined, what: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new UsageError(`${what} must be a whole number of at least 1, got ${value}`);
    return value;
  };
  return {
    goal: options.goal,
    flake: hive.meta.flake,
    nodes: nodes.map((n) => ({ name: n.name, buildOnTarget: options.buildOnTarget === true || n.buildOnTarget })),
    parallel: positive(options.parallel, "--parallel") ?? hive.meta.parallel,
    evalNodeLimit: positive(options.evalNodeLimit, "--eval-node-limit") ?? DEFAULT_EVAL_NODE_LIMIT,
    showTrace: options.showTrace ?? false,
    keepResult: options.keepResult ?? false,
    substitute: options.substitute ?? true,
    reactivate: options.reactivate ?? false,
    maxJobs: positive(options.maxJobs, "--max-jobs"),
    machinesFile: hive.meta.machinesFile,
  };
}

export interface NodeOutcome {
  name: string;
  result: NodeResult;
  drvPath: string | null;
  outPath: string | null;
  durationMs: number;
  error: { code: string; message: string } | null;
  /** The last lines of the node's log, for failures. */
  log: string[];
}

export interface ApplyReport {
  goal: Goal;
  nodes: NodeOutcome[];
  interrupted: boolean;
}

export interface ApplyContext {
  hive: Hive;
  runner: ProcessRunner;
  hostFor: (node: Node) => Host;
  reporter: Reporter;
  /** True once the operator asked to stop (first Ctrl-C): start nothing new. */
  interrupted: () => boolean;
  env?: Record<string, string | undefined>;
  hiveVersion: string;
  now?: () => number;
}

const LOG_TAIL = 20;

export async function executeApply(plan: ApplyPlan, context: ApplyContext): Promise<ApplyReport> {
  const now = context.now ?? Date.now;
  const started = now();
  const nodesByName = new Map(context.hive.nodes.map((n) => [n.name, n]));
  const states = new Map<string, NodeOutcome>(
    plan.nodes.map((n) => [n.name, { name: n.name, result: "skipped", drvPath: null, outPath: null, durationMs: 0, error: null, log: [] }]),
  );
  const logs = new Map<string, string[]>(plan.nodes.map((n) => [n.name, []]));
  const log = (node: string | undefined, line: string, source: "nix" | "activation") => {
    if (node !== undefined) {
      const lines = logs.get(node);
      if (lines) {
        lines.push(line);
        if (lines.length > 200) lines.splice(0, lines.length - 200);
      }
    }
    context.reporter.emit({ kind: "log", node, source, line });
  };
  const finish = (name: string, result: NodeResult, error: { code: string; message: string } | null = null, extraLog: string[] = []) => {
    const state = states.get(name)!;
    state.result = result;
    state.error = error;
    state.durationMs = now() - started;
    if (result === "failed" || result === "rolled-back") {
      state.log = [...(logs.get(name) ?? []), ...extraLog].filter((l) => l.trim() !== "").slice(-LOG_TAIL);
    }
    context.reporter.emit({ kind: "node-done", node: name, result, message: error?.message, durationMs: state.durationMs });
  };

  // 1. Evaluate, in chunks.
  for (const n of plan.nodes) context.reporter.emit({ kind: "phase", node: n.name, phase: "eval" });
  const evaluated = await evaluateSystems(
    plan.nodes.map((n) => ({ node: n.name, attribute: nodesByName.get(n.name)!.system })),
    { runner: context.runner, flake: plan.flake, chunkSize: plan.evalNodeLimit, showTrace: plan.showTrace, env: context.env },
  );
  const live: { name: string; drvPath: string; outPath: string; buildOnTarget: boolean }[] = [];
  for (const outcome of evaluated) {
    if (outcome.ok) {
      Object.assign(states.get(outcome.node)!, { drvPath: outcome.drvPath, outPath: outcome.outPath });
      live.push({ name: outcome.node, drvPath: outcome.drvPath, outPath: outcome.outPath, buildOnTarget: plan.nodes.find((n) => n.name === outcome.node)!.buildOnTarget });
    } else {
      finish(outcome.node, "failed", { code: "E_EVAL", message: outcome.error }, outcome.error.split("\n"));
    }
  }
  if (context.interrupted()) return report(plan, states, true);

  // 2. Build everything that is built here, in one invocation.
  const localBuilds = live.filter((n) => !n.buildOnTarget || plan.goal === "build");
  for (const n of localBuilds) context.reporter.emit({ kind: "phase", node: n.name, phase: "build" });
  const built = await buildSystems(
    localBuilds.map((n) => ({ node: n.name, drvPath: n.drvPath, outPath: n.outPath })),
    { runner: context.runner, maxJobs: plan.maxJobs, machinesFile: plan.machinesFile, env: context.env, onLine: (line, node) => log(node, line, "nix") },
  );
  const buildFailed = new Set<string>();
  for (const outcome of built) {
    if (!outcome.ok) {
      buildFailed.add(outcome.node);
      finish(outcome.node, "failed", { code: "E_BUILD", message: firstLine(outcome.error) }, outcome.error.split("\n"));
    }
  }
  const ready = live.filter((n) => !buildFailed.has(n.name));
  if (plan.keepResult) await keepResults(ready.filter((n) => !n.buildOnTarget || plan.goal === "build"), context);
  if (plan.goal === "build") {
    for (const n of ready) finish(n.name, "succeeded");
    return report(plan, states, context.interrupted());
  }

  // 3. Push and activate, node by node, in parallel.
  const revision = await readFlakeRevision(plan.flake, context.runner);
  const deployedBy = `${safeUser()}@${hostname()}`;
  const limit = pLimit(plan.parallel);
  await Promise.all(
    ready.map((n) =>
      limit(async () => {
        if (context.interrupted()) return; // stays skipped
        const node = nodesByName.get(n.name)!;
        try {
          const host = context.hostFor(node);
          context.reporter.emit({ kind: "phase", node: n.name, phase: "connect" });
          const before = await host.probe();
          if (!plan.reactivate && isAlreadyDeployed(plan.goal, before, n.outPath)) {
            finish(n.name, "unchanged");
            return;
          }
          if (context.interrupted()) return;
          context.reporter.emit({ kind: "phase", node: n.name, phase: "push" });
          const onLine = (line: string) => log(n.name, line, "nix");
          if (n.buildOnTarget) {
            await host.copyClosure(n.drvPath, { substitute: plan.substitute, derivation: true, onLine });
            await host.buildOnNode(n.drvPath, onLine);
          } else {
            await host.copyClosure(n.outPath, { substitute: plan.substitute, onLine });
          }
          if (!goalActivates(plan.goal)) {
            finish(n.name, "succeeded");
            return;
          }
          if (context.interrupted()) return;
          context.reporter.emit({ kind: "phase", node: n.name, phase: "activate" });
          const record: DeploymentRecord = {
            system: n.outPath,
            goal: plan.goal,
            deployedAt: new Date(now()).toISOString(),
            deployedBy,
            hiveFile: context.hive.file,
            flake: plan.flake,
            flakeRevision: revision.commit,
            flakeDirty: revision.dirty,
            hiveVersion: context.hiveVersion,
          };
          const activation = await host.activate(n.outPath, plan.goal, record, (line) => log(n.name, line, "activation"));
          if (activation.exitCode !== 0) {
            finish(n.name, "failed", activationError(activation.exitCode, activation.output));
            return;
          }
          context.reporter.emit({ kind: "phase", node: n.name, phase: "verify" });
          const after = await host.probe();
          const mismatch = verificationProblem(plan.goal, after, n.outPath);
          if (mismatch !== null) {
            finish(n.name, "failed", { code: "E_VERIFY", message: mismatch });
            return;
          }
          finish(n.name, "succeeded");
        } catch (error) {
          finish(n.name, "failed", describeError(error), errorLog(error));
        }
      }),
    ),
  );
  return report(plan, states, context.interrupted());
}

/** Unchanged means the node already is what the goal would make it: asked of the node, not cached. */
export function isAlreadyDeployed(goal: Goal, state: { current: string | null; profile: string | null }, outPath: string): boolean {
  switch (goal) {
    case "switch":
      return state.current === outPath && state.profile === outPath;
    case "boot":
      return state.profile === outPath;
    case "test":
    case "dry-activate":
    case "push":
      return state.current === outPath;
    default:
      return false;
  }
}

function verificationProblem(goal: Goal, state: { current: string | null; profile: string | null }, outPath: string): string | null {
  if ((goal === "switch" || goal === "test") && state.current !== outPath) {
    return `activation reported success, but the node runs ${state.current ?? "nothing known"} instead of ${outPath}`;
  }
  if (goalSetsProfile(goal) && state.profile !== outPath) {
    return `activation reported success, but the profile names ${state.profile ?? "nothing"} instead of ${outPath}`;
  }
  return null;
}

function activationError(exitCode: number | null, output: string[]): { code: string; message: string } {
  if (exitCode === 4) {
    const units = parseFailedUnits(output.join("\n"));
    return {
      code: "E_UNITS_FAILED",
      message: `switch-to-configuration exited 4: some units failed${units.length > 0 ? `: ${units.join(", ")}` : ""}; the node runs the new system`,
    };
  }
  const last = output.filter((l) => l.trim() !== "" && !l.startsWith("hive: profile")).at(-1);
  return {
    code: "E_ACTIVATION",
    message: `switch-to-configuration exited ${exitCode ?? "without a status (connection lost?)"}${last ? `: ${last}` : ""}`,
  };
}

async function keepResults(nodes: { name: string; outPath: string }[], context: ApplyContext): Promise<void> {
  const rootDir = `${context.hive.dir}/.hive/gcroots`;
  for (const n of nodes) {
    await context.runner.run("nix-store", ["--realise", n.outPath, "--add-root", `${rootDir}/${n.name}`, "--indirect"], { env: context.env });
  }
}

function report(plan: ApplyPlan, states: Map<string, NodeOutcome>, interrupted: boolean): ApplyReport {
  return { goal: plan.goal, nodes: plan.nodes.map((n) => states.get(n.name)!), interrupted };
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "E_NODE", message: error.message };
  }
  return { code: "E_NODE", message: String(error) };
}

function errorLog(error: unknown): string[] {
  const log = (error as { log?: unknown } | null)?.log;
  return Array.isArray(log) ? (log as string[]) : [];
}

function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "") ?? text;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env["USER"] ?? "unknown";
  }
}
