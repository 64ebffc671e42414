// `hive vars generate | check | list`: flags, help and the thin handlers; the work is in src/vars/.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import type { InstanceStatus } from "../../vars/status.js";
import { type CliBinding, type CommandContext, loadHiveForCommand } from "../context.js";
import { selection as selectionOption } from "../options.js";

interface VarsOptions {
  on?: string;
  json?: boolean;
  regenerate?: string[];
}

export function register(program: Command, cli: CliBinding): void {
  const vars = program.command("vars").description("generated secrets and public values (hive.ts `vars`): generate, check, list");
  const selection = () => selectionOption("the generators of these nodes (names, @tags, %roles), and the shared ones they use");
  const run = (handler: (context: CommandContext, options: VarsOptions) => Promise<ExitCode>) => async (options: VarsOptions) =>
    cli.exit(await handler(cli.context(), options));

  vars
    .command("generate")
    .description("run the generators whose files are missing, and re-encrypt files for changed recipients")
    .addOption(selection())
    .option("--regenerate <generator>", "run this generator again even where its files exist (repeatable); what reads them follows", collect, [])
    .option("--json", "print { vars: [{ generator, node, outcome, message, log }] } as JSON on stdout")
    .addHelpText(
      "after",
      `
Each generator's command runs on this machine in a fresh private directory (mode 0700, never in a
shared /tmp): it writes each declared file to $out/<file> and reads its dependencies' files from
$in/<generator>/<file>. Secret files are stored in vars/ next to hive.ts encrypted with age for
vars.recipients, public ones in plain text. A command that fails, or does not write a declared file,
stores nothing: the earlier files stay. Stale files (the generator changed since) are reported and
kept until --regenerate.

Examples:
  $ hive vars generate                          whatever is missing, for every node
  $ hive vars generate --on web-4               a new node's files
  $ hive vars generate --regenerate db-password rotate the shared database password`,
    )
    .action(run(runGenerate));

  vars
    .command("check")
    .description("report files that are missing, stale or encrypted for other recipients; exit 1 if any")
    .addOption(selection())
    .option("--json", "print { ok, vars: [{ generator, node, state, reasons, files }] } as JSON on stdout")
    .addHelpText(
      "after",
      `
States: ok; missing (never generated, or a file is gone); stale (the generator's command, files,
dependencies or share changed, a dependency was regenerated since, or a stored file was changed
outside hive: fix with --regenerate); rekey (vars.recipients changed: \`hive vars generate\`
re-encrypts). Exit 0 only when everything is ok: for cron and CI. Needs no identity.`,
    )
    .action(run(runCheck));

  vars
    .command("list")
    .description("every generator's files per node (or shared), public values included, never secrets")
    .addOption(selection())
    .option("--json", "print { vars: [{ generator, node, nodes, state, files: [{ name, secret, stored, present, value }] }] }")
    .action(run(runList));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter((v) => v !== "")];
}

async function runGenerate(context: CommandContext, options: VarsOptions): Promise<ExitCode> {
  const hive = await loadHiveForCommand(context);
  const [{ generateVars }, { execaRunner }, { createPlainRenderer }, { instanceLabel }] = await Promise.all([
    import("../../vars/generate.js"),
    import("../../nix/runner.js"),
    import("../../report/render-progress.js"),
    import("../../report/format-event.js"),
  ]);
  const { terminal } = context;
  const labels = hive.vars.generators.flatMap((g) => [instanceLabel({ generator: g.name, node: null }), ...g.nodes.map((node) => instanceLabel({ generator: g.name, node }))]);
  const reporter = createPlainRenderer(terminal.err, { color: terminal.errColor, verbose: context.globals.verbose > 0, nodeNames: labels });
  const results = await generateVars({ hive, runner: execaRunner, reporter }, { ...(options.on === undefined ? {} : { on: options.on }), regenerate: options.regenerate ?? [] });
  const { renderGenerateDetails, renderGenerateTable } = await import("../../report/render-vars.js");
  if (options.json) terminal.out(JSON.stringify({ vars: results }, null, 2));
  else {
    for (const line of renderGenerateDetails(results, terminal.errColor)) terminal.err(line);
    terminal.out(renderGenerateTable(results, terminal.color));
  }
  return results.some((r) => r.outcome === "failed" || r.outcome === "skipped") ? EXIT_CODES.failed : EXIT_CODES.success;
}

async function runCheck(context: CommandContext, options: VarsOptions): Promise<ExitCode> {
  const instances = await inspect(context, options, false);
  const { checkJson, renderCheckTable } = await import("../../report/render-vars.js");
  context.terminal.out(options.json ? JSON.stringify(checkJson(instances), null, 2) : renderCheckTable(instances, context.terminal.color));
  return instances.every((i) => i.state === "ok") ? EXIT_CODES.success : EXIT_CODES.failed;
}

async function runList(context: CommandContext, options: VarsOptions): Promise<ExitCode> {
  const instances = await inspect(context, options, true);
  const { listJson, renderListTable } = await import("../../report/render-vars.js");
  context.terminal.out(options.json ? JSON.stringify(listJson(instances), null, 2) : renderListTable(instances, context.terminal.color));
  return EXIT_CODES.success;
}

async function inspect(context: CommandContext, options: VarsOptions, withValues: boolean): Promise<InstanceStatus[]> {
  const hive = await loadHiveForCommand(context);
  const { inspectVars } = await import("../../vars/status.js");
  return (await inspectVars(hive, options.on, withValues)).instances;
}
