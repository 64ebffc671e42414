#!/usr/bin/env bash
# The README's first command: set up this machine, bring up the demo lab, and run hive on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The lab's Nix is offline: an empty substituters list keeps builds from waiting on a cache.
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command flakes'

npm run --silent lab -- up --name demo --subnet 10.78 --nodes web-1,web-2,gpu-1,desk-1
echo
echo "+ hive nodes" >&2
./bin/hive nodes
echo
echo "The demo lab is up (npm run lab -- status --name demo); take it down with: npm run lab -- down --name demo" >&2
