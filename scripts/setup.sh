#!/usr/bin/env bash
# Sets up a fresh Debian machine for hive and its lab: system packages, npm dependencies, build.
set -euo pipefail
cd "$(dirname "$0")/.."

# nix-bin: Nix itself; openssh-server: each lab node's sshd; sudo: the lab's non-root deploy user;
# busybox: the lab nodes' web service; iproute2/util-linux: namespaces; git: flake revisions.
packages=(nix-bin openssh-server openssh-client sudo busybox iproute2 util-linux procps git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  # npm install, not npm ci: npm 11 leaves other platforms' optional packages (rollup, rust-just
  # binaries) out of the lock file and npm ci then refuses it. Versions still come from the lock.
  npm install --no-audit --no-fund --loglevel=error
fi
npm run --silent build
