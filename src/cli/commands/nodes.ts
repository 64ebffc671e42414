// `hive nodes`: the selected nodes and how hive reaches them.
import { introspectNodes } from "../../config/introspect.js";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { type CommandContext, loadHiveForCommand } from "../context.js";
import { renderTable } from "../table.js";

export interface NodesOptions {
  on?: string;
  json?: boolean;
}

export async function runNodes(context: CommandContext, options: NodesOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const nodes = introspectNodes(hive, options.on);
  const { terminal } = context;
  if (options.json) {
    terminal.out(JSON.stringify({ nodes }, null, 2));
    return EXIT_CODES.success;
  }
  const c = terminal.color;
  terminal.out(
    renderTable(
      ["NAME", "HOST", "PORT", "USER", "TAGS", "BUILD-ON-TARGET"],
      nodes.map((n) => [c.bold(n.name), n.targetHost, n.targetPort, n.targetUser, n.tags.map((t) => `@${t}`).join(" "), n.buildOnTarget ? "yes" : "no"]),
      (h) => c.dim(h),
    ),
  );
  return EXIT_CODES.success;
}
