// Cross-field rules of hive.ts `vars`: generators' nodes, dependencies, recipients and the keys that read vars.
import { didYouMean } from "../util/suggest.js";
import { findDependencyCycle } from "./generators.js";
import type { Hive } from "./normalize.js";

type Rule = (hive: Hive, findings: { errors: string[]; warnings: string[] }) => void;

const generatorsSelectNodes: Rule = (hive, { errors }) => {
  for (const generator of hive.vars.generators) {
    if (generator.problem !== undefined) errors.push(`vars.generators.${generator.name}.on: ${generator.problem}`);
  }
};

const dependenciesExist: Rule = (hive, { errors }) => {
  const byName = new Map(hive.vars.generators.map((g) => [g.name, g]));
  for (const generator of hive.vars.generators) {
    generator.dependencies.forEach((name, i) => {
      const where = `vars.generators.${generator.name}.dependencies[${i}]`;
      const dependency = byName.get(name);
      if (dependency === undefined) {
        errors.push(`${where}: no generator ${JSON.stringify(name)}${didYouMean(name, byName.keys())}`);
      } else if (generator.share && !dependency.share) {
        errors.push(`${where}: a shared generator cannot read the per-node generator ${JSON.stringify(name)}: whose node's files would it get? Share ${JSON.stringify(name)} too, or make ${JSON.stringify(generator.name)} per node`);
      } else if (!generator.share && !dependency.share) {
        const without = generator.nodes.filter((n) => !dependency.nodes.includes(n));
        if (without.length > 0) {
          errors.push(`${where}: ${JSON.stringify(name)} is not generated for ${listNodes(without)}, which ${JSON.stringify(generator.name)} is for; widen its \`on\``);
        }
      }
    });
  }
};

const noDependencyCycle: Rule = (hive, { errors }) => {
  const cycle = findDependencyCycle(hive.vars.generators);
  if (cycle !== null) {
    errors.push(`vars.generators: dependency cycle ${cycle.join(" -> ")}; no generator in it could run first. Remove one of these dependencies`);
  }
};

const secretsHaveRecipients: Rule = (hive, { errors }) => {
  const withSecrets = hive.vars.generators.filter((g) => Object.values(g.files).some((f) => f.secret));
  if (withSecrets.length > 0 && hive.vars.recipients.length === 0) {
    errors.push(
      `vars.recipients: no recipients, so the secret files of ${withSecrets.map((g) => g.name).join(", ")} could be encrypted for no one. ` +
        "Add each operator's age public key (`age-keygen -y ~/.config/hive/age.key`) or SSH ed25519 public key (`cat ~/.ssh/id_ed25519.pub`)",
    );
  }
  hive.vars.recipients.forEach((recipient, i) => {
    const problem = recipientProblem(recipient);
    if (problem !== undefined) errors.push(`vars.recipients[${i}]: ${problem}`);
  });
};

/** What is wrong with a recipient's text, if anything; the age library checks it fully when encrypting. */
export function recipientProblem(recipient: string): string | undefined {
  const text = recipient.trim();
  if (/^age1[02-9ac-hj-np-z]{20,}$/.test(text)) return undefined;
  if (/^ssh-ed25519 [A-Za-z0-9+/]+={0,2}( .*)?$/.test(text)) return undefined;
  if (/^(ssh-rsa|ecdsa-sha2-|sk-)/.test(text)) {
    return `${text.split(" ")[0]} keys are not supported as recipients; use an ssh-ed25519 key or an age key (age-keygen)`;
  }
  if (text.startsWith("AGE-SECRET-KEY-")) return "this is an age identity (a private key)! Give its public key instead: age-keygen -y FILE; and treat the identity as leaked";
  return `expected an age public key (age1...) or an SSH ed25519 public key (ssh-ed25519 AAAA...), got ${JSON.stringify(text.slice(0, 20))}`;
}

/** A key `var: "generator/file"` must name a secret file of a generator that is for this node. */
const varKeysResolve: Rule = (hive, { errors }) => {
  const byName = new Map(hive.vars.generators.map((g) => [g.name, g]));
  for (const node of hive.nodes) {
    for (const [name, key] of Object.entries(node.keys)) {
      if (key.var === undefined || name === `${key.var.generator}/${key.var.file}`) continue;
      const where = `nodes.${node.name}.keys.${name}.var`;
      const generator = byName.get(key.var.generator);
      const spec = generator?.files[key.var.file];
      if (generator === undefined) {
        errors.push(`${where}: no generator ${JSON.stringify(key.var.generator)}${didYouMean(key.var.generator, byName.keys())}`);
      } else if (spec === undefined) {
        errors.push(`${where}: generator ${generator.name} has no file ${JSON.stringify(key.var.file)}${didYouMean(key.var.file, Object.keys(generator.files))}`);
      } else if (!spec.secret) {
        errors.push(`${where}: ${generator.name}/${key.var.file} is a public file; it reaches Nix as config.hive.vars.${generator.name}.${key.var.file}, not as a key`);
      } else if (!generator.nodes.includes(node.name)) {
        errors.push(`${where}: generator ${generator.name} is not for node ${node.name}; add it to the generator's \`on\``);
      }
    }
  }
};

function listNodes(nodes: readonly string[]): string {
  const shown = nodes.slice(0, 5).join(", ");
  return nodes.length > 5 ? `${shown} and ${nodes.length - 5} more` : shown;
}

export const VARS_RULES: readonly Rule[] = [generatorsSelectNodes, dependenciesExist, noDependencyCycle, secretsHaveRecipients, varKeysResolve];
