// Cross-field rules run after each node validated on its own; each pushes errors or warnings.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { didYouMean } from "../util/suggest.js";
import type { Hive } from "./normalize.js";
import { VARS_RULES } from "./vars-rules.js";

export interface RuleFindings {
  errors: string[];
  warnings: string[];
}

type Rule = (hive: Hive, findings: RuleFindings) => void;

const atLeastOneNode: Rule = (hive, { errors }) => {
  if (hive.nodes.length === 0) errors.push("nodes: no nodes defined; add at least one under `nodes`");
};

const rolloutOrderTagsExist: Rule = (hive, { errors }) => {
  const tags = new Set(hive.nodes.flatMap((n) => n.tags));
  hive.meta.rollout?.order.forEach((tag, i) => {
    if (!tags.has(tag)) errors.push(`meta.rollout.order[${i}]: no node has tag ${JSON.stringify(tag)}${didYouMean(tag, tags)}`);
  });
};

const distinctTargets: Rule = (hive, { errors }) => {
  const seen = new Map<string, string>();
  for (const node of hive.nodes) {
    const target = `${node.targetHost}:${node.targetPort}`;
    const other = seen.get(target);
    if (other !== undefined) {
      errors.push(
        `nodes.${node.name}.targetHost: ${target} is also the target of node ${JSON.stringify(other)}; two nodes would overwrite each other's system`,
      );
    } else {
      seen.set(target, node.name);
    }
  }
};

const keyFilesExist: Rule = (hive, { warnings }) => {
  for (const node of hive.nodes) {
    for (const [name, key] of Object.entries(node.keys)) {
      if (key.file !== undefined && !existsSync(key.file)) {
        warnings.push(`nodes.${node.name}.keys.${name}.file: ${key.file} does not exist (yet); uploading this key will fail`);
      }
    }
  }
};

/** Nix copies a local flake's whole tree into the world-readable store on every evaluation. */
const noSecretsInsideFlake: Rule = (hive, { warnings }) => {
  if (!hive.meta.flake.startsWith("/")) return;
  const insideFlake = (path: string) => !relative(hive.meta.flake, path).startsWith("..");
  const advice = "Nix copies that tree, secret included, into the world-readable Nix store. Use `file` or `command` with a source outside the flake.";
  if (insideFlake(hive.file)) {
    const nodes = hive.nodes.filter((n) => Object.values(n.keys).some((k) => k.text !== undefined));
    if (nodes.length > 0) {
      warnings.push(
        `keys: ${nodes.map((n) => n.name).join(", ")} ${nodes.length === 1 ? "has a" : "have"} \`text\` key defined in ${hive.file}, ` +
          `which lies inside the flake ${hive.meta.flake}: ${advice}`,
      );
    }
  }
  for (const node of hive.nodes) {
    for (const [name, key] of Object.entries(node.keys)) {
      if (key.file !== undefined && insideFlake(key.file)) {
        warnings.push(`nodes.${node.name}.keys.${name}.file: ${key.file} lies inside the flake ${hive.meta.flake}: ${advice}`);
      }
    }
  }
};

/** Every role selects at least one node, by names and tags that exist. */
const inventoryRolesSelectNodes: Rule = (hive, { errors }) => {
  for (const [service, roles] of Object.entries(hive.inventory)) {
    for (const [role, { problem }] of Object.entries(roles)) {
      if (problem !== undefined) errors.push(`inventory.${service}.${role}: ${problem}`);
    }
  }
};

const serviceChecksExist: Rule = (hive, { errors }) => {
  for (const node of hive.nodes) {
    for (const [name, service] of Object.entries(node.services)) {
      if (service.check !== undefined && node.healthChecks[service.check] === undefined) {
        const checks = Object.keys(node.healthChecks);
        errors.push(
          `nodes.${node.name}.services.${name}.check: node ${node.name} has no health check ${JSON.stringify(service.check)}${didYouMean(service.check, checks)}; ` +
            (checks.length > 0 ? `its checks: ${checks.join(", ")}` : "define it under healthChecks"),
        );
      }
    }
  }
};

export const RULES: readonly Rule[] = [
  atLeastOneNode,
  rolloutOrderTagsExist,
  distinctTargets,
  keyFilesExist,
  noSecretsInsideFlake,
  inventoryRolesSelectNodes,
  serviceChecksExist,
  ...VARS_RULES,
];

export function applyRules(hive: Hive): RuleFindings {
  const findings: RuleFindings = { errors: [], warnings: [] };
  for (const rule of RULES) rule(hive, findings);
  return findings;
}
