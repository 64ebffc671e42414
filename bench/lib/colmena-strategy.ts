// Colmena's way to deploy, with Nix's own commands: the flake's locked URL (`nix flake metadata`), one
// `nix-instantiate --eval --strict --read-write-mode` of every selected node's drvPath (Colmena's
// evalSelectedDrvPaths, one chunk: its default eval-node limit is MemAvailable / 512 MB), one `nix-store
// --realise` of them all, then per node in parallel `nix-copy-closure --to`, `nix-env --set` and
// `switch-to-configuration switch`, each over its own ssh connection as Colmena runs them.
import pLimit from "p-limit";
import { labNixEnv, labSshOptions, type Lab } from "../../test/lab/lab.js";
import { SYSTEM_PROFILE } from "./lab-deploy.js";
import { timeCommandStreaming } from "./process.js";

export interface ColmenaRun {
  /** `nix flake metadata` and the one nix-instantiate. */
  evalMs: number;
  /** The one `nix-store --realise`, and reading the outputs of the derivations. */
  buildMs: number;
  /** Copy and activation of every node, in parallel. */
  deployMs: number;
  ms: number;
  outPaths: Record<string, string>;
}

const nixString = (s: string) => JSON.stringify(s).replace(/\$\{/g, "\\${");

/** Colmena's evalSelectedDrvPaths over `builtins.getFlake`, for the named nodes. */
export function selectedDrvPathsExpression(flakeUrl: string, nodes: readonly string[]): string {
  const names = nodes.map(nixString).join(" ");
  return `let flake = builtins.getFlake ${nixString(flakeUrl)}; in builtins.listToAttrs (map (name: { inherit name; value = flake.nixosConfigurations.\${name}.config.system.build.toplevel.drvPath; }) [ ${names} ])`;
}

export async function deployColmenaStyle(lab: Lab, flakeDir: string, options: { parallel: number; running?: Set<number> }): Promise<ColmenaRun> {
  const env = labNixEnv(lab);
  const run = async (what: string, command: string, args: string[]) => {
    const result = await timeCommandStreaming(command, args, { env, running: options.running });
    if (result.status !== 0) throw new Error(`colmena strategy, ${what}: ${command} exited with ${result.status}:\n${result.stderr.trim().split("\n").slice(-20).join("\n")}`);
    return result.stdout;
  };
  const start = performance.now();
  const metadata = JSON.parse(await run("flake metadata", "nix", ["flake", "metadata", "--json", flakeDir])) as { url?: string };
  if (typeof metadata.url !== "string") throw new Error("colmena strategy: nix flake metadata printed no url");
  const names = lab.nodes.map((n) => n.name);
  const drvPaths = JSON.parse(
    await run("evaluation", "nix-instantiate", ["--no-gc-warning", "--eval", "--strict", "--json", "--read-write-mode", "-E", selectedDrvPathsExpression(metadata.url, names)]),
  ) as Record<string, string>;
  const evaluated = performance.now();

  const drvs = names.map((name) => {
    const drv = drvPaths[name];
    if (drv === undefined) throw new Error(`colmena strategy: the evaluation returned no drvPath for ${name}`);
    return drv;
  });
  await run("build", "nix-store", ["--realise", ...drvs]);
  const outputs = (await run("outputs", "nix-store", ["--query", "--outputs", ...drvs])).trim().split("\n");
  if (outputs.length !== drvs.length) throw new Error(`colmena strategy: ${drvs.length} derivations but ${outputs.length} outputs`);
  const outPaths = Object.fromEntries(names.map((name, i) => [name, outputs[i]!]));
  const built = performance.now();

  const ssh = [...labSshOptions(lab)];
  const limit = pLimit(options.parallel);
  await Promise.all(
    lab.nodes.map((node) =>
      limit(async () => {
        const out = outPaths[node.name]!;
        const target = `root@${node.address}`;
        await run(`copy to ${node.name}`, "nix-copy-closure", ["--to", "--use-substitutes", target, out]);
        await run(`profile on ${node.name}`, "ssh", [...ssh, target, "nix-env", "--profile", SYSTEM_PROFILE, "--set", out]);
        await run(`activation on ${node.name}`, "ssh", [...ssh, target, `${out}/bin/switch-to-configuration`, "switch"]);
      }),
    ),
  );
  const end = performance.now();
  return { evalMs: evaluated - start, buildMs: built - evaluated, deployMs: end - built, ms: end - start, outPaths };
}
