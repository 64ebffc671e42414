// The commander program: global options, one subcommand per file, help with examples.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import type { ExitCode } from "../errors.js";
import type { CommandContext, GlobalOptions } from "./context.js";
import type { Terminal } from "./terminal.js";

export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const SELECTOR_HELP = `
Selectors (--on):
  web-1,web-2        the nodes named web-1 and web-2 (',' is OR)
  @server            the nodes tagged server
  'web-*' '@gpu-*'   globs over names and tags (* ? [abc])
  '@server&@eu'      servers in eu ('&' is AND)
  '@server&!@eu'     servers outside eu ('!' is NOT)
  '@server,!web-3'   servers except web-3; '!@eu' alone: every node outside eu
  Quote selectors that contain '!', '&' or globs in your shell.`;

const EXIT_HELP = `
Exit codes: 0 success, 1 failed on at least one node, 2 invalid usage, hive.ts or selector, 130 interrupted.`;

export interface ProgramHooks {
  terminal: Terminal;
  /** Receives each command's exit code. */
  setExitCode: (code: ExitCode) => void;
}

export function buildProgram(hooks: ProgramHooks): Command {
  const program = new Command("hive")
    .description("Deploy NixOS fleets defined in hive.ts: parallel, tag-based, health-checked, with rollback.")
    .version(readVersion(), "-V, --version", "print hive's version")
    .option("-f, --config <path>", "hive.ts to use (default: nearest hive.ts, hive.js or hive.mjs upward)")
    .option("-v, --verbose", "more output; repeat for more", (_: string, previous: number) => previous + 1, 0)
    .option("--debug", "show stack traces for errors", false)
    .addHelpText("after", `${SELECTOR_HELP}\n${EXIT_HELP}`)
    .showSuggestionAfterError(true);

  const context = (): CommandContext => ({ globals: program.opts<GlobalOptions>(), terminal: hooks.terminal });
  const selection = () => new Option("--on <selector>", "act on these nodes (names, @tags, globs; see below)");

  program
    .command("nodes")
    .alias("introspect")
    .description("list the nodes hive.ts defines: host, port, user, tags")
    .addOption(selection())
    .option("--json", "print { nodes: [...] } as JSON on stdout")
    .addHelpText(
      "after",
      `
Examples:
  $ hive nodes                          every node in hive.ts order
  $ hive nodes --on @server             the nodes tagged server
  $ hive nodes --on '@server&!web-1*' --json | jq -r '.nodes[].targetHost'
${SELECTOR_HELP}`,
    )
    .action(async (options) => {
      const { runNodes } = await import("./commands/nodes.js");
      hooks.setExitCode(await runNodes(context(), options));
    });

  const deployOptions = (command: Command) =>
    command
      .addOption(selection())
      .option("--json", "print { goal, nodes: [...] } as JSON on stdout")
      .option("--eval-node-limit <n>", "nodes per nix evaluation process (bounds memory; default 10)", parseCount)
      .option("--show-trace", "pass --show-trace to Nix evaluation")
      .option("--build-on-target", "build every selected node's system on the node itself")
      .option("--keep-result", "keep GC roots for the built systems in .hive/gcroots next to hive.ts")
      .option("--max-jobs <n>", "Nix build jobs at once", parseCount);

  deployOptions(
    program
      .command("apply")
      .description("evaluate, build, push and activate the selected nodes' systems")
      .argument("[goal]", "build | push | switch | boot | test | dry-activate | keys", "switch"),
  )
    .option("-p, --parallel <n>", "nodes pushed and activated at once (default meta.parallel)", parseCount)
    .option("--no-substitute", "do not let nodes fetch paths from their own substituters")
    .option("--no-keys", "do not upload the nodes' keys (hive.ts `keys`); stale keys stay too")
    .option("--reactivate", "activate even on nodes that already run the desired system")
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .option("--no-rollback", "do not roll nodes back when activation or a health check fails")
    .option("--no-magic-rollback", "do not make nodes wait for hive's confirmation (dead-man rollback)")
    .option("--batch-size <n|p%>", "deploy in batches of this many nodes (or percent of the selection), one batch after another")
    .option("--max-failures <n>", "failed nodes tolerated before no new batch starts (with batches: default 0)", parseCountOrZero)
    .option("--force-unlock", "break a node lock held by another hive run")
    .addHelpText(
      "after",
      `
Goals:
  build         evaluate and build; deploy nothing (same as \`hive build\`)
  push          build and copy the closures to the nodes; activate nothing
  switch        new profile generation, activated now (default)
  boot          new profile generation, activated at next boot
  test          activate now, profile untouched
  dry-activate  show what activation would change
  keys          upload the nodes' keys only (same as \`hive upload-keys\`)

Examples:
  $ hive apply --on @server             build, push and switch the servers
  $ hive apply boot --on 'web-*'        install for the next boot
  $ hive apply --on @eu -p 20 --json    20 nodes at a time, JSON result for scripts
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (goal: string, options) => {
      if (goal === "keys") {
        const { runUploadKeys } = await import("./commands/upload-keys.js");
        hooks.setExitCode(await runUploadKeys(context(), { ...options, asApplyGoal: true }));
        return;
      }
      const { runApply } = await import("./commands/apply.js");
      hooks.setExitCode(await runApply(context(), goal, options));
    });

  deployOptions(program.command("build").description("evaluate and build every selected node's system; deploy nothing"))
    .addHelpText(
      "after",
      `
Examples:
  $ hive build                          build every node
  $ hive build --on @server --json      { goal, nodes: [{ name, drvPath, outPath, ... }] }
  $ hive build --keep-result            keep GC roots in .hive/gcroots`,
    )
    .action(async (options) => {
      const { runApply } = await import("./commands/apply.js");
      hooks.setExitCode(await runApply(context(), "build", options));
    });

  program
    .command("rollback")
    .description("switch nodes back to their previous (or a given) generation, with health checks")
    .addOption(selection())
    .option("--to <generation>", "the generation to return to (default: the one before the current)", parseCount)
    .option("--json", "print { goal: \"rollback\", nodes: [...] } as JSON on stdout")
    .option("-p, --parallel <n>", "nodes rolled back at once (default meta.parallel)", parseCount)
    .option("--no-rollback", "do not return to the current generation when the old one fails its checks")
    .option("--no-magic-rollback", "do not make nodes wait for hive's confirmation")
    .option("--force-unlock", "break a node lock held by another hive run")
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .addHelpText(
      "after",
      `
Examples:
  $ hive rollback --on web-1            back to the generation before the current one
  $ hive rollback --on web-1 --to 41    back to generation 41 (see \`hive history --on web-1\`)
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (options) => {
      const { runRollback } = await import("./commands/rollback.js");
      hooks.setExitCode(await runRollback(context(), options));
    });

  program
    .command("check")
    .description("run the selected nodes' health checks now, without deploying")
    .addOption(selection())
    .option("--json", "print { nodes: [{ name, healthy, checks: [...] }] } as JSON on stdout")
    .option("-p, --parallel <n>", "nodes checked at once (default 50)", parseCount)
    .addHelpText(
      "after",
      `
Exit code 1 when any check fails: made for cron jobs and agents.

Examples:
  $ hive check                          every node's checks
  $ hive check --on @ai --json          { nodes: [{ name, healthy, checks: [{ name, passed, latencyMs, output }] }] }
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (options) => {
      const { runCheck } = await import("./commands/check.js");
      hooks.setExitCode(await runCheck(context(), options));
    });

  program
    .command("upload-keys")
    .description("upload the selected nodes' keys (secrets) now, and remove keys hive.ts no longer has")
    .addOption(selection())
    .option("--json", "print { goal, nodes: [{ name, result, keys, removed, ... }] } as JSON on stdout")
    .option("-p, --parallel <n>", "nodes worked on at once (default meta.parallel)", parseCount)
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .addHelpText(
      "after",
      `
Reads every key of a node on this machine first (text, file, or command output); a source that
fails fails its node before anything on it changes. Content goes over the SSH channel only,
into a file created with its final owner and mode, then renamed into place. Same as
\`hive apply keys\`; \`hive apply\` uploads keys by itself, around activation.

Examples:
  $ hive upload-keys                    every node
  $ hive upload-keys --on @db --json    { goal: "keys", nodes: [{ name, result, keys, removed }] }
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (options) => {
      const { runUploadKeys } = await import("./commands/upload-keys.js");
      hooks.setExitCode(await runUploadKeys(context(), options));
    });

  program
    .command("exec")
    .description("run a command on the selected nodes at once, over one SSH connection each")
    .argument("<command...>", "the command and its arguments (put -- before it)")
    .usage("[options] -- <command> [args...]")
    .showHelpAfterError("hint: put -- before the command, so options after it are the command's: hive exec -- ls -la")
    .addOption(selection())
    .option("-p, --parallel <n>", "nodes running the command at once (default 50)", parseCount)
    .option("--timeout <seconds>", "kill the command on a node after this long", parseSeconds)
    .option("--sudo", "run the command as root (through privilegeEscalationCommand) when targetUser is not root")
    .option("--stdin", "send hive's standard input to the command on every node")
    .option("--group", "print each distinct result once, under the nodes that produced it")
    .option("--json", "print { nodes: [{ name, exitCode, stdout, stderr, durationMs, error, ... }] } on stdout")
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .addHelpText(
      "after",
      `
Arguments reach the node byte for byte: each one is quoted for the node's shell, so nothing in
them is expanded there. For pipes, globs or variables on the node, run a shell:
  -- sh -c 'df -h / | tail -1'

Output streams as it arrives: \`node | line\` for stdout (on stdout), \`node ! line\` for stderr
(on stderr). Unreachable nodes and timeouts are reported as such, apart from non-zero exits.
Exit 0 only when the command exited 0 on every node.

Examples:
  $ hive exec -- uptime                         every node, output as it comes
  $ hive exec --on @server --group -- cat /etc/os-release
  $ hive exec --on 'web-*' --timeout 10 --json -- systemctl is-active nginx
  $ hive exec --on @db --sudo -- journalctl -u postgresql -n 20
  $ cat motd | hive exec --stdin -- tee /etc/motd
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (argv: string[], options) => {
      const { runExec } = await import("./commands/exec.js");
      hooks.setExitCode(await runExec(context(), argv, options));
    });

  program
    .command("status")
    .description("what each node runs against what hive.ts wants: in-sync, drift or unknown")
    .addOption(selection())
    .option("--json", "print { nodes: [...], inSync, total } as JSON on stdout")
    .option("--eval-node-limit <n>", "nodes per nix evaluation process (bounds memory; default 10)", parseCount)
    .option("--show-trace", "pass --show-trace to Nix evaluation")
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .addHelpText(
      "after",
      `
Per node: SSH latency, the running system and its generation, when that was activated, the
verdict against hive.ts (evaluated now, not built), uptime, failed systemd units, health, who
deployed it, and needs-reboot when the booted kernel differs. Exit 0 only when every selected
node is reachable, in sync and healthy: fit for cron and scripts.

Examples:
  $ hive status                          the whole fleet
  $ hive status --on @server --json | jq -r '.nodes[] | select(.verdict != "in-sync") | .name'
${SELECTOR_HELP}
${EXIT_HELP}`,
    )
    .action(async (options) => {
      const { runStatus } = await import("./commands/status.js");
      hooks.setExitCode(await runStatus(context(), options));
    });

  program
    .command("history")
    .description("a node's system generations: number, date, system, which one runs")
    .addOption(new Option("--on <selector>", "the node (or nodes) to list; required"))
    .option("--json", "print { nodes: [{ name, generations: [...] }] } as JSON on stdout")
    .option("--accept-new-host-keys", "trust and record host keys seen for the first time (TOFU)")
    .addHelpText(
      "after",
      `
Examples:
  $ hive history --on web-1
  $ hive history --on web-1 --json | jq '.nodes[0].generations[] | select(.current)'`,
    )
    .action(async (options) => {
      const { runHistory } = await import("./commands/history.js");
      hooks.setExitCode(await runHistory(context(), options));
    });

  return program;
}

function parseCountOrZero(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}
