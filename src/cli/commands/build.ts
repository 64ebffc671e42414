// `hive build`: evaluate and build the selected nodes' systems; deploy nothing.
import type { Command } from "commander";
import type { CliBinding } from "../context.js";
import { helpFooter, selection } from "../options.js";
import { addDeployOptions, runApply } from "./apply.js";

export function register(program: Command, cli: CliBinding): void {
  addDeployOptions(program.command("build").description("evaluate and build every selected node's system; deploy nothing").addOption(selection()))
    .addHelpText(
      "after",
      `\nNodes with buildOnTarget are built on the node itself: their system never exists on this machine.\n` +
        helpFooter([
          "hive build                          build every node",
          "hive build --on @server --json      { goal, nodes: [{ name, drvPath, outPath, ... }] }",
          "hive build --keep-result            keep GC roots in .hive/gcroots",
        ]),
    )
    .action(async (options) => cli.exit(await runApply(cli.context(), "build", options)));
}
