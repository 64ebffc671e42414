#!/usr/bin/env bash
# Sets up a Debian 12 machine for hive and its lab: system packages, a usable Nix store, npm dependencies, build.
# Checks everything it needs; what it cannot fix it names, with the fix, and exits 1. Never edits tracked files.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
problems=()
problem() { problems+=("$1"); }
fail_if_problems() {
  [ ${#problems[@]} -eq 0 ] && return 0
  say "this machine is not ready for hive's lab and tests:"
  for p in "${problems[@]}"; do echo "  - $p" >&2; done
  exit 1
}

# Node 20 first: the build and every script below need it, and Debian 12's own nodejs is 18.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  problem "Node.js 20 or later is needed (found: $(node --version 2>/dev/null || echo none)); Debian 12's nodejs is 18: install Node 20 from NodeSource (deb.nodesource.com) or nodejs.org"
fi
fail_if_problems

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then as_root=(sudo); else as_root=(false); fi
fi

# nix-bin: Nix itself. nix-setup-systemd: /etc/nix/nix.conf (the lab mounts each node's own over it), the
# nixbld build users and the daemon's directories; nix-bin only recommends it, and without it there is no
# usable store. openssh-server: each lab node's sshd; sudo: the lab's non-root deploy user; busybox: the
# lab nodes' web service; iproute2, util-linux: namespaces, veths, bridges; perl: the lab nodes' init;
# git: flake revisions. age: the tests check that hive's vars decrypt with the real age tool. strace: counts
# the node facts script's processes; tmux: tables at 80 and 120 columns; python3-prometheus-client: the
# OpenMetrics parser the metrics tests use.
packages=(nix-bin nix-setup-systemd openssh-server openssh-client sudo busybox iproute2 util-linux procps perl git age strace tmux python3-prometheus-client)
if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    if ! "${as_root[@]}" apt-get update -qq ||
      ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      problem "could not install ${missing[*]}: run, as root, apt-get update && apt-get install --no-install-recommends ${missing[*]}"
    fi
  fi
else
  problem "not a Debian system (no apt-get): install Nix 2.8 or later, OpenSSH's sshd, sudo, busybox, iproute2, util-linux, procps, perl, git and age by hand"
fi
fail_if_problems

# What the lab and the tests use, each checked for real.
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command flakes'
nix_fix="as root: apt-get install nix-bin nix-setup-systemd (and, not as root, systemctl start nix-daemon.socket and join group nix-users)"
if ! command -v nix-instantiate >/dev/null; then
  problem "no Nix (nix-instantiate not on PATH): $nix_fix"
else
  [ -f /etc/nix/nix.conf ] || problem "no /etc/nix/nix.conf (each lab node mounts its own over it): $nix_fix"
  if ! out=$(nix-instantiate --eval -E 1 2>&1) || [ "$out" != 1 ]; then
    problem "Nix cannot evaluate offline (nix-instantiate --eval -E 1 said: ${out//$'\n'/ }): $nix_fix"
  elif ! out=$(nix-build --no-out-link -E 'derivation { name = "hive-setup-check"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ok > $out" ]; }' 2>&1); then
    problem "Nix cannot build into its store (a one-line derivation said: ${out//$'\n'/ }): $nix_fix"
  fi
  [ -d /nix/store ] || problem "no /nix/store after a build: $nix_fix"
fi
[ -x /usr/sbin/sshd ] || problem "no /usr/sbin/sshd (each lab node runs one): apt-get install openssh-server"
command -v git >/dev/null || problem "no git (hive records flake revisions with it): apt-get install git"
{ command -v age >/dev/null && command -v age-keygen >/dev/null; } || problem "no age or age-keygen (hive vars encrypts secrets with them): apt-get install age"
if [ "$(id -u)" -eq 0 ]; then
  # A throwaway network namespace: the lab's nodes are such namespaces joined by veths to a bridge.
  if ! out=$(unshare --mount --net --uts sh -c 'ip link add hive-chk0 type veth peer name hive-chk1 && ip link add hive-chk2 type bridge' 2>&1); then
    problem "cannot create network and mount namespaces with a veth and a bridge (${out//$'\n'/ }): the lab needs a VM or host, or a container with CAP_SYS_ADMIN and CAP_NET_ADMIN (e.g. --privileged)"
  fi
else
  say "not root: the lab (npm run demo) and the end-to-end tests need root; the unit tests do not"
fi
fail_if_problems

# promtool (the parser node_exporter's textfile collector uses) for the metrics tests, without a Prometheus server.
bash scripts/install-metrics-parsers.sh || problem "could not install promtool: run bash scripts/install-metrics-parsers.sh"
fail_if_problems

# npm ci installs exactly the lock file and never rewrites it (npm install would, and every deployment
# record would then say "+dirty").
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
