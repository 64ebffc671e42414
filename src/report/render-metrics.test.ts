import { describe, expect, it } from "vitest";
import type { NodeStatus, StatusReport } from "../fleet/status.js";
import { checkWithPromtool, parseOpenMetrics } from "../../test/support/metrics-parsers.js";
import { renderOpenMetrics } from "./render-metrics.js";

const node = (over: Partial<NodeStatus>): NodeStatus =>
  ({
    name: "web-1",
    reachable: true,
    latencyMs: 3,
    current: "/nix/store/a",
    desired: "/nix/store/a",
    verdict: "in-sync",
    reason: null,
    explanation: null,
    runningCommit: "abc",
    wantedCommit: "abc",
    generation: 7,
    activatedAt: "2026-01-02T03:04:05.000Z",
    activatedAtSource: "event",
    profile: "/nix/store/a",
    profileGeneration: 7,
    uptimeSeconds: 1000,
    failedUnits: [],
    health: { healthy: true, checks: [{ name: "web", passed: true, message: null }] },
    services: [{ name: "nginx", unit: "nginx.service", unitState: "active (running)", port: 80, listening: true, check: "web", healthy: true, up: true, problem: null }],
    keys: { missing: [], stale: [], error: null },
    resources: { memory: { totalBytes: 8e9, availableBytes: 6e9 }, disks: [{ path: "/", mount: "/", sizeBytes: 100e9, usedBytes: 40e9 }], load: [0.52, 0.4, 0.3], cpus: 4 },
    needsReboot: false,
    booted: "/nix/store/a",
    deployment: null,
    events: [{ at: "2026-01-02T03:04:05Z", kind: "deployed", result: "confirmed", system: "/nix/store/a", previous: null, generation: 7, previousGeneration: 6, error: null, deployment: null }],
    problems: [],
    error: null,
    evalError: null,
    ...over,
  }) as NodeStatus;

const REPORT: StatusReport = {
  nodes: [
    node({}),
    // A node name no label may break: quotes, a backslash.
    node({ name: 'odd"name\\x', verdict: "drift", generation: 3, services: [{ name: "db", unit: "db.service", unitState: "failed (failed)", port: null, listening: null, check: null, healthy: null, up: false, problem: "x" }], keys: { missing: [{ name: "k", path: "/run/keys/k", placedBefore: true }], stale: [], error: null } }),
    node({ name: "gone", reachable: false, latencyMs: null, verdict: "unknown", current: null, generation: null, activatedAt: null, uptimeSeconds: null, failedUnits: null, health: null, services: [], keys: null, resources: null, needsReboot: null, events: [] }),
  ],
  inSync: 1,
  total: 3,
  commit: "abc",
  dirty: false,
};

describe("renderOpenMetrics", () => {
  const text = renderOpenMetrics(REPORT, Date.parse("2026-01-03T00:00:00Z"));

  it("is accepted by promtool, the parser node_exporter's textfile collector uses", () => {
    const verdict = checkWithPromtool(text);
    expect(verdict.ok, verdict.output).toBe(true);
  });

  it("is read by the OpenMetrics parser as the fleet's state", () => {
    const families = Object.fromEntries(parseOpenMetrics(text).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string>) => families[name]!.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(families["hive_nodes"]!.samples[0]!.value).toBe(3);
    expect(families["hive_nodes_in_sync"]!.samples[0]!.value).toBe(1);
    expect(value("hive_node_verdict", { node: 'odd"name\\x', verdict: "drift" })).toBe(1);
    expect(value("hive_node_verdict", { node: "web-1", verdict: "in-sync" })).toBe(1);
    expect(value("hive_node_reachable", { node: "gone" })).toBe(0);
    expect(value("hive_node_generation", { node: "web-1" })).toBe(7);
    expect(value("hive_node_last_deploy_timestamp_seconds", { node: "web-1" })).toBe(Date.parse("2026-01-02T03:04:05Z") / 1000);
    expect(value("hive_node_last_deploy_result", { node: "web-1", result: "deployed" })).toBe(1);
    expect(value("hive_node_service_up", { node: 'odd"name\\x', service: "db" })).toBe(0);
    expect(value("hive_node_keys_missing", { node: 'odd"name\\x' })).toBe(1);
    expect(value("hive_node_healthy", { node: "gone" })).toBeUndefined();
    expect(families["hive_node_load1"]!.type).toBe("gauge");
  });

  it("is rejected by both parsers when broken, so the checks above can fail", () => {
    const broken = text.replace('hive_nodes 3', 'hive_nodes{node="x} 3');
    expect(checkWithPromtool(broken).ok).toBe(false);
    expect(() => parseOpenMetrics(broken)).toThrow(/rejected/);
    expect(() => parseOpenMetrics(text.replace("# EOF\n", ""))).toThrow(/EOF/);
  });
});
