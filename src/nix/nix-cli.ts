// The Nix command lines hive runs, in one place so differences between Nix versions stay here.
//
// Written for Nix 2.8 (Debian's nix-bin) and current Nix alike: flakes and `nix` subcommands are
// enabled per call; no --print-out-paths (results come from `nix eval --json`); derivations are
// realised with `nix-store --realise` (no `drv^out` installables in 2.8); ssh store URLs carry no
// port (2.8 rejects `ssh://host:port`), so the port and other OpenSSH options go in NIX_SSHOPTS.

export const EXPERIMENTAL = ["--extra-experimental-features", "nix-command flakes"] as const;

/** `nix <subcommand> ...` with flakes enabled. */
export function nixArgs(subcommand: string, ...args: string[]): string[] {
  return [subcommand, ...EXPERIMENTAL, ...args];
}

/** `ssh://user@host` plus the remote program when nix-store must run through sudo. */
export function sshStoreUrl(user: string, host: string, remoteCommandPrefix: readonly string[]): string {
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const base = `ssh://${encodeURIComponent(user)}@${hostPart}`;
  if (remoteCommandPrefix.length === 0) return base;
  return `${base}?remote-program=${encodeURIComponent([...remoteCommandPrefix, "nix-store"].join(" "))}`;
}
