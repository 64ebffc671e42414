# Sourced: sets HIVE_NIXPKGS_LIB (a nixpkgs-lib checkout's root, holding lib/) unless it is set: the
# workspace's shared/nixpkgs-lib next to this checkout or above it, else /work/shared/nixpkgs-lib.
# test/support/nixpkgs-lib.ts looks in the same places.
if [ -z "${HIVE_NIXPKGS_LIB:-}" ]; then
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  while :; do
    if [ -f "$dir/../shared/nixpkgs-lib/lib/default.nix" ]; then HIVE_NIXPKGS_LIB=$(cd "$dir/../shared/nixpkgs-lib" && pwd); break; fi
    [ "$dir" = / ] && break
    dir=$(dirname "$dir")
  done
  [ -n "${HIVE_NIXPKGS_LIB:-}" ] || HIVE_NIXPKGS_LIB=/work/shared/nixpkgs-lib
  export HIVE_NIXPKGS_LIB
fi
