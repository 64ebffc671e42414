// `hive vars generate | check | list`: flags, help and the thin handlers; the work is in src/vars/.
import type { Command } from "commander";
import { EXIT_CODES, type ExitCode } from "../../errors.js";
import { renderTable } from "../../report/table.js";
import type { VarOutcome, VarResult, VarsEvent } from "../../vars/generate.js";
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
  const [{ generateVars }, { execaRunner }] = await Promise.all([import("../../vars/generate.js"), import("../../nix/runner.js")]);
  const { terminal } = context;
  const e = terminal.errColor;
  const emit = (event: VarsEvent) => {
    const who = `${e.cyan(label(event))} | `;
    if (event.kind === "var-start") {
      if (context.globals.verbose > 0) terminal.err(`${who}${event.action === "rekey" ? "re-encrypting" : "generating"}`);
    } else if (event.outcome !== "unchanged" || context.globals.verbose > 0) {
      terminal.err(`${who}${outcomeColor(e, event.outcome)(event.outcome)}${event.message && event.outcome !== "failed" ? `: ${event.message}` : ""}`);
    }
  };
  const results = await generateVars({ hive, runner: execaRunner, emit }, { ...(options.on === undefined ? {} : { on: options.on }), regenerate: options.regenerate ?? [] });
  if (options.json) {
    terminal.out(JSON.stringify({ vars: results }, null, 2));
  } else {
    for (const failed of results.filter((r) => r.outcome === "failed" && r.log.length > 0)) {
      terminal.err(`${e.red.bold(`${label(failed)} failed`)}; last lines of its standard error:`);
      for (const line of failed.log) terminal.err(`  ${e.dim(line)}`);
    }
    const c = terminal.color;
    terminal.out(
      renderTable(
        ["GENERATOR", "NODE", "RESULT", "MESSAGE"],
        results.map((r) => [c.bold(r.generator), r.node ?? "(shared)", outcomeColor(c, r.outcome)(r.outcome), r.message ?? ""]),
        (h) => c.dim(h),
      ),
    );
  }
  return results.some((r) => r.outcome === "failed" || r.outcome === "skipped") ? EXIT_CODES.failed : EXIT_CODES.success;
}

async function runCheck(context: CommandContext, options: VarsOptions): Promise<ExitCode> {
  const instances = await inspect(context, options, false);
  const ok = instances.every((i) => i.state === "ok");
  const { terminal } = context;
  if (options.json) {
    terminal.out(JSON.stringify({ ok, vars: instances.map(({ generator, node, state, reasons, files }) => ({ generator, node, state, reasons, files })) }, null, 2));
  } else {
    const c = terminal.color;
    terminal.out(
      renderTable(
        ["GENERATOR", "NODE", "STATE", "WHY"],
        instances.map((i) => [c.bold(i.generator), i.node ?? "(shared)", stateColor(c, i.state)(i.state), i.reasons.join("; ")]),
        (h) => c.dim(h),
      ),
    );
  }
  return ok ? EXIT_CODES.success : EXIT_CODES.failed;
}

async function runList(context: CommandContext, options: VarsOptions): Promise<ExitCode> {
  const instances = await inspect(context, options, true);
  const { terminal } = context;
  if (options.json) {
    terminal.out(JSON.stringify({ vars: instances.map(({ generator, description, node, nodes, state, generatedAt, files }) => ({ generator, description: description ?? null, node, nodes, state, generatedAt, files })) }, null, 2));
    return EXIT_CODES.success;
  }
  const c = terminal.color;
  const rows = instances.flatMap((i) =>
    i.files.map((f, index) => [
      index === 0 ? c.bold(i.generator) : "",
      index === 0 ? (i.node ?? `(shared: ${i.nodes.join(", ") || "no node"})`) : "",
      f.name,
      f.secret ? "secret" : f.present ? shorten(f.value ?? "") : "",
      index === 0 ? stateColor(c, i.state)(i.state) : "",
    ]),
  );
  terminal.out(renderTable(["GENERATOR", "NODE", "FILE", "VALUE", "STATE"], rows, (h) => c.dim(h)));
  return EXIT_CODES.success;
}

async function inspect(context: CommandContext, options: VarsOptions, withValues: boolean): Promise<InstanceStatus[]> {
  const hive = await loadHiveForCommand(context);
  const { inspectVars } = await import("../../vars/status.js");
  return (await inspectVars(hive, options.on, withValues)).instances;
}

function label(of: { generator: string; node: string | null }): string {
  return of.node === null ? `${of.generator} (shared)` : `${of.generator} for ${of.node}`;
}

function shorten(value: string): string {
  const line = value.replace(/\n$/, "").replace(/\n/g, "\\n");
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

type Painter = CommandContext["terminal"]["color"];

function outcomeColor(c: Painter, outcome: VarOutcome | VarResult["outcome"]): (s: string) => string {
  return outcome === "failed" ? c.red : outcome === "generated" || outcome === "rekeyed" ? c.green : outcome === "unchanged" ? c.dim : c.yellow;
}

function stateColor(c: Painter, state: InstanceStatus["state"]): (s: string) => string {
  return state === "ok" ? c.green : state === "missing" ? c.red : c.yellow;
}
