#!/usr/bin/env bash
# CI: checks flake.nix offline, against the stand-in for nixpkgs in test/flake/nixpkgs-stand-in (real lib,
# checking fakes of buildNpmPackage, importNpmLock and the packages it names): `nix flake check --no-build`
# evaluates every output for every system; then three broken copies must fail, or the check proves nothing.
# It cannot build hive (that needs the real nixpkgs and the network): see docs/getting-started.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command flakes'
source scripts/nixpkgs-lib.sh
lib=$HIVE_NIXPKGS_LIB/lib
if [ ! -f "$lib/default.nix" ]; then
  echo "check-flake: no nixpkgs lib at $lib; set HIVE_NIXPKGS_LIB to a nixpkgs checkout's root" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r test/flake/nixpkgs-stand-in "$tmp/nixpkgs"
cp -r "$lib" "$tmp/nixpkgs/lib"
stand_in=(--no-write-lock-file --override-input nixpkgs "path:$tmp/nixpkgs")

# The repository's flake as git sees it (tracked files), quietly: the lock notes are expected.
nix flake check --no-build "${stand_in[@]}" . 2> "$tmp/check.log" || { cat "$tmp/check.log" >&2; exit 1; }
nix eval --json "${stand_in[@]}" .#packages --apply 'ps: builtins.mapAttrs (system: p: {
  drv = p.default.drvPath;
  arguments = p.default.passthru.arguments;
}) ps' 2> "$tmp/eval.log" > "$tmp/packages.json" || { cat "$tmp/eval.log" >&2; exit 1; }
node -e '
  const packages = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const [system, p] of Object.entries(packages)) console.log(`check-flake: ${system}: ${p.drv} (buildNpmPackage ${p.arguments.join(", ")})`);
' "$tmp/packages.json"

# Each broken copy must fail with its own message.
expect_failure() {
  local name=$1 expected=$2
  if nix flake check --no-build "${stand_in[@]}" "path:$tmp/$name" > "$tmp/$name.log" 2>&1; then
    echo "check-flake: the check passed a broken flake ($name): it would not catch that mistake" >&2
    exit 1
  fi
  if ! grep -qF -- "$expected" "$tmp/$name.log"; then
    echo "check-flake: a broken flake ($name) failed, but not with \"$expected\":" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
  echo "check-flake: a broken copy fails as it should ($name: $expected)"
}
broken() {
  mkdir "$tmp/$1"
  cp flake.nix package.json package-lock.json "$tmp/$1/"
}
broken typo && sed -i 's/npmConfigHook = pkgs/npmConfigHok = pkgs/' "$tmp/typo/flake.nix"
expect_failure typo "unknown argument(s) npmConfigHok"
broken argument && sed -i 's/importNpmLock { npmRoot = /importNpmLock { root = /' "$tmp/argument/flake.nix"
expect_failure argument "called with unexpected argument 'root'"
broken unresolved && sed -i '0,/"resolved": /{/"resolved": /d}' "$tmp/unresolved/package-lock.json"
expect_failure unresolved "has no \`resolved\` URL"
echo "check-flake: flake.nix evaluates against the stand-in for every system (not built: that needs nixpkgs)"
