// Renders `hive apply --plan`: the batches in order and what each node will get, touching nothing.
import type { ChalkInstance } from "chalk";
import type { ApplyPlan } from "../plan/apply-plan.js";
import { renderTable } from "./table.js";

/** Narrow terminals: CHECKS and HOST are shortened first, then BUILD, ROLLBACK, DEAD-MAN and HOST are dropped in that order. */
export function renderPlan(plan: ApplyPlan, c: ChalkInstance, width: number | null = null): string {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const rows = plan.batches.flatMap((batch, i) =>
    batch.map((name) => {
      const n = byName.get(name)!;
      return [
        String(i + 1),
        c.bold(name),
        n.node.targetHost,
        n.buildOnTarget ? "node" : "here",
        n.decisionWindow > 0 ? `${n.decisionWindow}s` : "off",
        n.rollback ? "yes" : "no",
        n.healthChecks.join(" ") || "-",
      ];
    }),
  );
  const settings = [
    `goal ${plan.goal}, flake ${plan.flake}`,
    `${plan.parallel} node(s) at once${plan.maxFailures === null ? "" : `, at most ${plan.maxFailures} failure(s) before later batches are skipped`}`,
    `evaluation: ${plan.eval.workers} worker(s) within ${Math.round(plan.eval.memoryBytes / 1024 ** 2)} MiB, cache ${plan.eval.cache ? "on" : "off"}`,
    plan.uploadKeys ? "keys uploaded around activation" : "keys left alone",
  ];
  return [
    renderTable(
      [{ header: "BATCH" }, { header: "NODE" }, { header: "HOST", drop: 4, min: 12 }, { header: "BUILD", drop: 1 }, { header: "DEAD-MAN", drop: 3 }, { header: "ROLLBACK", drop: 2 }, { header: "CHECKS", min: 10 }],
      rows,
      (h) => c.dim(h),
      width,
    ),
    "",
    ...settings.map((s) => c.dim(s)),
  ].join("\n");
}
