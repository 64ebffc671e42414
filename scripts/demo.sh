#!/usr/bin/env bash
# The README's first command: set up this machine, bring up the demo lab, and run hive on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The lab's Nix is offline: an empty substituters list keeps builds from waiting on a cache.
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command flakes'

npm run --silent lab -- up --name demo --subnet 10.78 --nodes web-1,web-2,gpu-1,desk-1

run() {
  echo >&2
  echo "+ hive $*" >&2
  ./bin/hive "$@"
}
run nodes
run apply --on @server
run exec -- uptime
# status exits non-zero while some nodes are not deployed yet: that is its job.
run status || true
cat >&2 <<'EOT'

The demo lab is up: the servers run the systems in lab/nodes.json. Next, try:
  ./bin/hive apply                           deploy the rest of the fleet
  (edit "version" in lab/nodes.json)
  ./bin/hive apply --on @server              ship the change; see http://10.78.1.1/
  ./bin/hive status                          what runs where, and what drifted
  npm run lab -- down --name demo            take the lab down
EOT
