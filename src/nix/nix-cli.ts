// The Nix command lines hive runs, in one place so differences between Nix versions stay here.
//
// Written for Nix 2.8 (Debian's nix-bin) and current Nix alike: flakes and `nix` subcommands are
// enabled per call; no --print-out-paths (results come from `nix eval --json`); derivations are
// realised with `nix-store --realise` (no `drv^out` installables in 2.8); closures travel over
// hive's own SSH connection into `nix-store --serve --write` (serve-protocol.ts; no `ssh://host:port`
// store URLs, which 2.8 rejects), as an export hive writes itself (export.ts); registrations come
// from `nix-store --dump-db`, whose hash format closure.ts reads in both its old and new forms.

export const EXPERIMENTAL = ["--extra-experimental-features", "nix-command flakes"] as const;

/** `nix <subcommand> ...` with flakes enabled. */
export function nixArgs(subcommand: string, ...args: string[]): string[] {
  return [subcommand, ...EXPERIMENTAL, ...args];
}
