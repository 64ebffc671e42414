// `hive nodes`: the selected nodes and how hive reaches them.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode, UsageError } from "../../errors.js";
import { type CliBinding, type CommandContext, loadHiveForCommand, tableWidth } from "../context.js";
import { helpFooter, selection } from "../options.js";

interface NodesFlags {
  on?: string;
  json?: boolean;
  nixData?: boolean;
}

export function register(program: Command, cli: CliBinding): void {
  program
    .command("nodes")
    .alias("introspect")
    .description("list the nodes hive.ts defines: host, port, user, tags")
    .addOption(selection())
    .option("--json", "print { nodes: [...] } as JSON on stdout")
    .option("--nix-data", "print what one node's configuration sees as config.hive (its hive.data), as JSON")
    .addHelpText(
      "after",
      helpFooter([
        "hive nodes                          every node in hive.ts order",
        "hive nodes --on @server             the nodes tagged server",
        "hive nodes --on '@server&!web-1*' --json | jq -r '.nodes[].targetHost'",
        "hive nodes --on web-1 --nix-data     what web-1's configuration sees as config.hive",
      ]),
    )
    .action(async (options: NodesFlags) => cli.exit(await runNodes(cli.context(), options)));
}

async function runNodes(context: CommandContext, options: NodesFlags): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const { introspectNodes } = await import("../../fleet/nodes.js");
  const nodes = introspectNodes(hive, options.on);
  const { terminal } = context;
  if (options.nixData) {
    if (nodes.length !== 1) {
      throw new UsageError(`--nix-data prints one node's data; the selection has ${nodes.length} nodes`, "select one node: hive nodes --on NODE --nix-data");
    }
    const [{ readPublicVars }, { buildNodeData }] = await Promise.all([import("../../vars/store.js"), import("../../fleet/node-data.js")]);
    const node = hive.nodes.find((n) => n.name === nodes[0]!.name)!;
    terminal.out(JSON.stringify(buildNodeData(hive, node, await readPublicVars(hive)), null, 2));
    return EXIT_CODES.success;
  }
  if (options.json) {
    terminal.out(JSON.stringify({ nodes }, null, 2));
    return EXIT_CODES.success;
  }
  const { renderNodesTable } = await import("../../report/render-nodes.js");
  if (hive.meta.description !== undefined) terminal.err(terminal.errColor.dim(`${hive.meta.name ?? "fleet"}: ${hive.meta.description}`));
  terminal.out(renderNodesTable(nodes, terminal.color, tableWidth(context)));
  return EXIT_CODES.success;
}
