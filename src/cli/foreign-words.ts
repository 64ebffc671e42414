// Hints for words other deployers use (Colmena's, mostly) that hive spells differently or lacks:
// said after the CLI framework's bare "unknown command/option".

const COMMANDS: Record<string, string> = {
  "apply-local": "hive deploys over SSH only for now; to deploy this machine, add it to hive.ts with targetHost localhost",
  repl: "hive has no REPL; `nix repl` with your flake (`:lf .`) shows the same configurations",
  eval: "hive has no eval; `nix eval .#nixosConfigurations.<node>.config.<option>` evaluates an option",
  deploy: "hive's word is apply: `hive apply --on <selector>`",
  exec: "hive exec -- <command>",
  upload: "hive's word is upload-keys",
  "upload-keys": "hive upload-keys",
};

const OPTIONS: Record<string, string> = {
  "--reboot": "hive apply has no --reboot: `hive apply boot --on <nodes>`, then `hive exec --on <nodes> --sudo -- systemctl reboot`",
  "-E": "hive nodes lists nodes and settings; it evaluates no Nix expressions (use `nix eval`)",
  "--evaluator": "hive evaluates in parallel workers by itself: see --eval-workers and --eval-memory",
  "--eval-node-limit": "hive sizes evaluation by memory: use --eval-memory (and --eval-workers)",
  "--no-build-on-target": "buildOnTarget is a hive.ts setting per node; --build-on-target forces it for the run",
  "--impure": "hive evaluates flakes purely; pass what the configurations need through flake inputs",
  "--on-all": "without --on, hive acts on every node (unless meta.allowApplyAll is false)",
};

/** A one-line hint for an unknown command or option, when one is known. */
export function foreignWordHint(kind: "command" | "option", word: string): string | undefined {
  return (kind === "command" ? COMMANDS : OPTIONS)[word];
}
