// `hive rollback`: each node back to its previous (or a given) generation, checked like a deploy.
import pLimit from "p-limit";
import { errorLog, summarizeError } from "../errors.js";
import { lockGuardScript } from "../activation/lock.js";
import type { NodeLock } from "../host/host.js";
import type { RollbackPlan } from "../plan/rollback-plan.js";
import type { RunContext } from "../run-context.js";
import { activateAndCheck } from "./activate.js";
import { type ApplyReport, OutcomeTracker } from "./outcomes.js";

export async function executeRollback(plan: RollbackPlan, context: RunContext): Promise<ApplyReport> {
  const tracker = new OutcomeTracker(plan.nodes.map((n) => n.name), context.reporter, context.now);
  const limit = pLimit(plan.parallel);
  await Promise.all(
    plan.nodes.map((planned) =>
      limit(async () => {
        const { node } = planned;
        if (context.signal.aborted) return tracker.skip(node.name, { code: "E_INTERRUPTED", message: "not started: interrupted" });
        let lock: NodeLock | undefined;
        try {
          const host = context.hostFor(node);
          tracker.phase(node.name, "connect");
          lock = await host.lock({ holder: context.deployer.name, pid: context.deployer.pid, startedAt: context.deployer.startedAt }, { force: plan.forceUnlock, withKeysManifest: false });
          const facts = await host.facts("status");
          const numbers = facts.generations.map((g) => g.number);
          const currentGen = facts.profileGeneration;
          const target = plan.to ?? [...numbers].filter((g) => currentGen !== null && g < currentGen).sort((a, b) => b - a)[0];
          const generation = facts.generations.find((g) => g.number === target);
          if (target === undefined || generation === undefined) {
            const have = numbers.length > 0 ? `it has ${numbers.join(", ")}` : "it has none";
            const message = plan.to !== null ? `no generation ${plan.to} of ${node.profile}; ${have}` : `no generation before ${currentGen ?? "the current one"} of ${node.profile}; ${have}`;
            return tracker.finish(node.name, { result: "failed", error: { code: "E_NO_GENERATION", message } });
          }
          tracker.get(node.name).outPath = generation.system;
          if (facts.current === generation.system && currentGen === generation.number) return tracker.finish(node.name, { result: "unchanged" });
          await activateAndCheck(
            host,
            {
              node,
              rollback: planned.rollback,
              decisionWindow: planned.decisionWindow,
              system: generation.system,
              goal: "switch",
              profileAction: { kind: "switch-generation", generation: generation.number },
              record: {
                system: generation.system,
                goal: "rollback",
                deployedAt: new Date(context.now()).toISOString(),
                deployedBy: context.deployer.name,
                hiveFile: context.hive.file,
                flake: context.hive.meta.flake,
                flakeRevision: null,
                flakeDirty: null,
                hiveVersion: context.hiveVersion,
              },
              guard: lockGuardScript(lock.token),
            },
            tracker,
          );
        } catch (error) {
          tracker.finish(node.name, { result: "failed", error: summarizeError(error), log: errorLog(error).length > 0 ? errorLog(error) : undefined });
        } finally {
          await lock?.release();
        }
      }),
    ),
  );
  return tracker.report("rollback", plan.nodes.map((n) => n.name), context.signal.aborted);
}
