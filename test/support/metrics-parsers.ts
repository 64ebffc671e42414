// Runs hive's metrics through real parsers: Prometheus' promtool (`check metrics`, the text format
// node_exporter's textfile collector reads) and the OpenMetrics parser of the Prometheus Python
// client. Both are installed by scripts/install-metrics-parsers.sh (part of scripts/setup.sh).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const LOCAL_PROMTOOL = resolve(import.meta.dirname, "../../.tools/bin/promtool");

export interface ParserVerdict {
  ok: boolean;
  output: string;
}

function promtool(): string {
  if (existsSync(LOCAL_PROMTOOL)) return LOCAL_PROMTOOL;
  if (spawnSync("sh", ["-c", "command -v promtool"]).status === 0) return "promtool";
  throw new Error("promtool is missing: run bash scripts/install-metrics-parsers.sh");
}

/** `promtool check metrics`: parse errors exit 1, lint problems exit 3; both fail. */
export function checkWithPromtool(text: string): ParserVerdict {
  const run = spawnSync(promtool(), ["check", "metrics"], { input: text, encoding: "utf8" });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

const PYTHON = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = []
for f in text_string_to_metric_families(sys.stdin.read()):
    families.append({"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(families))
`;

export interface ParsedFamily {
  name: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** The OpenMetrics parser's reading of `text`; throws with the parser's message when it rejects it. */
export function parseOpenMetrics(text: string): ParsedFamily[] {
  const run = spawnSync("/usr/bin/python3", ["-c", PYTHON], { input: text, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`the OpenMetrics parser rejected the text:\n${run.stderr.trim().split("\n").slice(-3).join("\n")}`);
  return JSON.parse(run.stdout) as ParsedFamily[];
}
