// The fleet pipeline of `hive apply` and `hive build`: evaluations stream in, each node is built
// as soon as it is evaluated and deployed as soon as it is built (within its batch and the
// parallel limit), while other nodes still evaluate.
import pLimit from "p-limit";
import { type ErrorSummary, summarizeError } from "../errors.js";
import { isFailure } from "../events.js";
import { BuildQueue, type BuildOutcome } from "../nix/build.js";
import { ClosureReader } from "../nix/closure.js";
import { type EvaluatedNode, evaluateNodes } from "../nix/eval.js";
import { EvalCache } from "../nix/eval-cache.js";
import { resolveFlake } from "../nix/flake-ref.js";
import { injectedNodeData } from "../fleet/node-data.js";
import type { ApplyPlan, PlannedNode } from "../plan/apply-plan.js";
import type { RunContext } from "../run-context.js";
import { deployNode } from "./deploy-node.js";
import { type ApplyReport, OutcomeTracker } from "./outcomes.js";

type Ready = { ok: true; drvPath: string; outPath: string } | { ok: false };

export async function executeApply(plan: ApplyPlan, context: RunContext): Promise<ApplyReport> {
  const names = plan.nodes.map((n) => n.name);
  const tracker = new OutcomeTracker(names, context.reporter, context.now);
  const planned = new Map(plan.nodes.map((n) => [n.name, n]));
  const deploys = plan.goal !== "build";

  // Evaluation and builds: each node's readiness resolves as soon as its own system is built.
  const builds = new BuildQueue({
    runner: context.runner,
    maxJobs: plan.maxJobs,
    machinesFile: plan.machinesFile,
    env: context.env,
    signal: context.signal,
    onLine: (line, node) => tracker.log(node, line, "nix"),
  });
  const ready = new Map<string, Promise<Ready>>();
  const settle = new Map<string, (ready: Ready) => void>();
  for (const name of names) ready.set(name, new Promise((resolve) => settle.set(name, resolve)));
  const evaluated = new Set<string>();
  const onEvaluated = (outcome: EvaluatedNode) => {
    evaluated.add(outcome.node);
    void prepare(planned.get(outcome.node)!, outcome).then(settle.get(outcome.node)!);
  };
  const prepare = async (node: PlannedNode, outcome: EvaluatedNode): Promise<Ready> => {
    if (!outcome.ok) {
      tracker.finish(node.name, { result: "failed", error: outcome.error, log: outcome.log });
      return { ok: false };
    }
    Object.assign(tracker.get(node.name), { drvPath: outcome.drvPath, outPath: outcome.outPath });
    // A node built on itself is built during its deployment; `hive build` builds those there too.
    if (node.buildOnTarget) return { ok: true, drvPath: outcome.drvPath, outPath: outcome.outPath };
    tracker.phase(node.name, "build");
    let built: BuildOutcome;
    try {
      built = await builds.build({ node: node.name, drvPath: outcome.drvPath, outPath: outcome.outPath });
    } catch (error) {
      built = { node: node.name, ok: false, error: summarizeError(error), log: [] };
    }
    if (!built.ok) {
      tracker.finish(node.name, { result: "failed", error: built.error, log: built.log });
      return { ok: false };
    }
    if (plan.keepResult) await keepResult(context, node.name, outcome.outPath);
    return { ok: true, drvPath: outcome.drvPath, outPath: outcome.outPath };
  };
  // The flake as Nix sees it (an unusable one fails the run here, before any node is touched).
  const flake = await resolveFlake(plan.flake, context.runner);

  // The first nodes to deploy connect while Nix evaluates and builds: their handshakes cost no
  // waiting later. A node with keys is contacted only once its key sources were read (deployNode):
  // one whose source fails is never reached.
  const connecting = new Map<string, Promise<Error | null>>();
  if (deploys) {
    for (const name of (plan.batches[0] ?? []).slice(0, plan.parallel)) {
      const node = planned.get(name)!.node;
      if (plan.uploadKeys && Object.keys(node.keys).length > 0) continue;
      connecting.set(name, context.hostFor(node).connect().then(() => null, (error: Error) => error));
    }
  }
  for (const name of names) tracker.phase(name, "eval");
  const warn = (message: string) => context.reporter.emit({ code: "run.warning", message });
  const evaluation = evaluateNodes(
    plan.nodes.map((n) => ({ node: n.name, attribute: n.node.system })),
    {
      runner: context.runner,
      flake,
      settings: plan.eval,
      cache: plan.eval.cache ? new EvalCache(context.cacheDir, warn) : null,
      env: context.env,
      signal: context.signal,
      inject: await injectedNodeData(context.hive),
      onEvaluated,
      onWarning: (nodes, message) => context.reporter.emit({ code: "eval.warning", nodes, message }),
    },
  ).then(
    (stats) => {
      context.reporter.emit({ code: "eval.summary", ...stats });
      return null;
    },
    (error: unknown) => error,
  );
  // Nodes the evaluation never answered for: skipped when interrupted. A failure of the evaluation as
  // a whole (the flake itself) is the run's error, said once, not each node's.
  void evaluation.then((failure) => {
    for (const name of names.filter((n) => !evaluated.has(n))) {
      if (failure === null) tracker.skip(name, { code: "E_INTERRUPTED", message: "not evaluated: interrupted" });
      settle.get(name)!({ ok: false });
    }
  });

  if (!deploys) {
    await Promise.all(
      plan.nodes.map(async (n) => {
        const r = await ready.get(n.name)!;
        if (!r.ok) return;
        if (n.buildOnTarget) await buildOnTargetOnly(n, r, context, tracker);
        else tracker.finish(n.name, { result: "succeeded" });
      }),
    );
    return finish(plan, tracker, context, await evaluation);
  }

  const recordBase = {
    system: "",
    goal: plan.goal,
    deployedAt: "",
    deployedBy: context.deployer.name,
    hiveFile: context.hive.file,
    flake: flake.ref,
    flakeRevision: flake.commit,
    flakeDirty: flake.dirty,
    hiveVersion: context.hiveVersion,
  };
  // Read when the first node needs a push, for every node whose system is known by then: a fleet
  // that is already up to date starts no Nix process for it.
  const closures = new ClosureReader(context.runner, context.env);
  const limit = pLimit(plan.parallel);
  const failures = () => plan.nodes.filter((n) => isFailure(tracker.get(n.name).result)).length;
  let stoppedBy: ErrorSummary | null = null;
  for (const batch of plan.batches) {
    if (stoppedBy === null && context.signal.aborted) stoppedBy = { code: "E_INTERRUPTED", message: "not started: interrupted" };
    if (stoppedBy !== null) {
      for (const name of batch) tracker.skip(name, stoppedBy);
      continue;
    }
    await Promise.all(
      batch.map(async (name) => {
        const r = await ready.get(name)!;
        if (!r.ok) return;
        closures.want(planned.get(name)!.buildOnTarget ? r.drvPath : r.outPath);
        await limit(async () => {
          if (context.signal.aborted) return tracker.skip(name, { code: "E_INTERRUPTED", message: "not started: interrupted" });
          const node = planned.get(name)!;
          const host = context.hostFor(node.node);
          await deployNode(
            { planned: node, drvPath: r.drvPath, outPath: r.outPath, host, connected: connecting.get(name) ?? Promise.resolve(null) },
            { plan, context, tracker, recordBase, closures },
          );
        });
      }),
    );
    if (plan.maxFailures !== null && failures() > plan.maxFailures) {
      stoppedBy = { code: "E_STOPPED", message: `not started: ${failures()} failed node(s) exceed the maximum of ${plan.maxFailures} failures` };
    }
  }
  return finish(plan, tracker, context, await evaluation);
}

async function finish(plan: ApplyPlan, tracker: OutcomeTracker, context: RunContext, evaluationFailure: unknown): Promise<ApplyReport> {
  // A failure of the evaluation as a whole (the flake itself) is the run's, not a node's: raised once.
  if (evaluationFailure !== null) throw evaluationFailure;
  return tracker.report(plan.goal, plan.nodes.map((n) => n.name), context.signal.aborted);
}

/** `hive build` of a node that builds on itself: its derivations go to the node, the result stays there. */
async function buildOnTargetOnly(n: PlannedNode, r: { drvPath: string; outPath: string }, context: RunContext, tracker: OutcomeTracker): Promise<void> {
  const host = context.hostFor(n.node);
  try {
    tracker.phase(n.name, "push");
    const closure = await new ClosureReader(context.runner, context.env).closure(r.drvPath);
    await host.copyClosure(closure, { substitute: true, onLine: (line) => tracker.log(n.name, line, "nix") });
    tracker.phase(n.name, "build");
    await host.buildOnNode(r.drvPath, (line) => tracker.log(n.name, line, "nix"));
    tracker.finish(n.name, { result: "succeeded" });
  } catch (error) {
    tracker.finish(n.name, { result: "failed", error: summarizeError(error) });
  }
}

async function keepResult(context: RunContext, name: string, outPath: string): Promise<void> {
  const root = `${context.hive.dir}/.hive/gcroots/${name}`;
  await context.runner.run("nix-store", ["--realise", outPath, "--add-root", root, "--indirect"], { env: context.env });
}
