// `hive rollback`: return nodes to their previous (or a given) generation, with checks, in parallel.
import { hostname } from "node:os";
import pLimit from "p-limit";
import type { Hive } from "../config/normalize.js";
import { UsageError } from "../errors.js";
import { type HeldLock, acquireNodeLock } from "../activation/lock.js";
import { nodeFactsScript, parseNodeFacts } from "../fleet/node-facts.js";
import { selectNodes } from "../selection/selector.js";
import { errorLog as nodeErrorLog, summarizeError as describeNodeError } from "../errors.js";
import { type ApplyContext, type ApplyReport, activateAndCheck, deployingUser, trackOutcomes } from "./apply.js";

export interface RollbackOptions {
  on?: string;
  /** Generation to return to; default the one before the profile's current generation. */
  to?: number;
  parallel?: number;
  rollback?: boolean;
  magicRollback?: boolean;
  forceUnlock?: boolean;
}

export interface RollbackPlan {
  nodes: { name: string; rollback: boolean; confirmTimeout: number }[];
  to: number | null;
  parallel: number;
  forceUnlock: boolean;
}

export function planRollback(hive: Hive, options: RollbackOptions): RollbackPlan {
  if (options.to !== undefined && (!Number.isInteger(options.to) || options.to < 1)) {
    throw new UsageError(`--to must be a generation number, got ${options.to}`);
  }
  const nodes = selectNodes(hive.nodes, options.on);
  return {
    nodes: nodes.map((n) => ({
      name: n.name,
      rollback: options.rollback !== false && n.rollback,
      confirmTimeout: options.magicRollback !== false && n.magicRollback ? n.confirmTimeout : 0,
    })),
    to: options.to ?? null,
    parallel: options.parallel ?? hive.meta.parallel,
    forceUnlock: options.forceUnlock === true,
  };
}

export async function executeRollback(plan: RollbackPlan, context: ApplyContext): Promise<ApplyReport> {
  const now = context.now ?? Date.now;
  const tracker = trackOutcomes(plan.nodes.map((n) => n.name), context.reporter, now);
  const nodesByName = new Map(context.hive.nodes.map((n) => [n.name, n]));
  const deployedBy = `${deployingUser()}@${hostname()}`;
  const limit = pLimit(plan.parallel);
  await Promise.all(
    plan.nodes.map((planned) =>
      limit(async () => {
        if (context.interrupted()) return;
        const node = nodesByName.get(planned.name)!;
        let lock: HeldLock | undefined;
        try {
          const host = context.hostFor(node);
          context.reporter.emit({ kind: "phase", node: node.name, phase: "connect" });
          lock = await acquireNodeLock(host, { holder: deployedBy, pid: process.pid, startedAt: new Date(now()).toISOString() }, { force: plan.forceUnlock });
          const facts = parseNodeFacts((await host.run(nodeFactsScript(node.profile, { allRecords: false }), { timeoutMs: 30_000 })).stdout, node.profile);
          const numbers = facts.generations.map((g) => g.number);
          const currentGen = facts.profileGeneration;
          const target =
            plan.to ?? [...numbers].filter((g) => currentGen !== null && g < currentGen).sort((a, b) => b - a)[0];
          const generation = facts.generations.find((g) => g.number === target);
          if (target === undefined || generation === undefined) {
            const have = numbers.length > 0 ? `it has ${numbers.join(", ")}` : "it has none";
            tracker.finish(node.name, "failed", {
              code: "E_NO_GENERATION",
              message: plan.to !== null ? `no generation ${plan.to} of ${node.profile}; ${have}` : `no generation before ${currentGen ?? "the current one"} of ${node.profile}; ${have}`,
            });
            return;
          }
          tracker.states.get(node.name)!.outPath = generation.system;
          if (facts.current === generation.system && currentGen === generation.number) {
            tracker.finish(node.name, "unchanged");
            return;
          }
          await activateAndCheck(
            host,
            {
              name: node.name,
              node,
              rollback: planned.rollback,
              confirmTimeout: planned.confirmTimeout,
              system: generation.system,
              goal: "switch",
              profileAction: { kind: "switch-generation", generation: generation.number },
            },
            {
              context,
              log: tracker.log,
              finish: tracker.finish,
              logsFor: (name) => tracker.logs.get(name) ?? [],
              recordBase: {
                system: generation.system,
                goal: "rollback",
                deployedAt: "",
                deployedBy,
                hiveFile: context.hive.file,
                flake: context.hive.meta.flake,
                flakeRevision: null,
                flakeDirty: null,
                hiveVersion: context.hiveVersion,
              },
              now,
            },
          );
        } catch (error) {
          tracker.finish(node.name, "failed", describeNodeError(error), nodeErrorLog(error));
        } finally {
          await lock?.release();
        }
      }),
    ),
  );
  return { goal: "rollback", nodes: plan.nodes.map((n) => tracker.states.get(n.name)!), interrupted: context.interrupted() };
}
