#!/usr/bin/env bash
# CI: the README's two commands, `npm run demo` then `npm test`, as root in a fresh Debian 12 root, so that
# a missing install step fails CI instead of a new user's first run.
#
# The root: mmdebstrap's minbase of bookworm from this machine's Debian sources, plus ca-certificates, plus
# Node.js 20 and npm copied from this machine into /usr/local (Debian 12's own nodejs is 18; users install
# Node 20 from NodeSource or nodejs.org, which is this same node binary and npm directory under one prefix).
# The root also gets this machine's network settings (its extra CA certificates, NODE_EXTRA_CA_CERTS) and a
# proxy: it runs in its own network namespace whose only way out is an HTTP proxy on the host end of a veth.
# Nothing else: no Nix, no sshd, no git, no ~/.ssh, no HOME contents; setup.sh must bring what it needs.
# Its own mount namespace is pivoted into the root (as a container is, not chrooted), so nothing in it can
# reach this machine's files; its own pid namespace ends everything it started when it ends.
#
# Needs root and the network this machine has (Debian's packages, the npm registry).
# HIVE_FRESH_ROOT_NET (default 10.253.0) names the /30 of the veth; HIVE_FRESH_ROOT_TIMEOUT (default 45m).
# To look into a failure, HIVE_FRESH_ROOT_COMMANDS replaces the README's commands, one per line
# (e.g. "npm run demo" and "npx vitest run --project e2e test/e2e/lab.test.ts").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
net=${HIVE_FRESH_ROOT_NET:-10.253.0}
timeout=${HIVE_FRESH_ROOT_TIMEOUT:-45m}
say() { echo "fresh-root: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "needs root (it builds a Debian root and creates network, mount and pid namespaces)"
  exit 2
fi
for tool in mmdebstrap ip nsenter unshare git; do
  command -v "$tool" >/dev/null || { say "needs $tool: apt-get install mmdebstrap iproute2 util-linux git"; exit 2; }
done

work=$(mktemp -d /var/tmp/hive-fresh-root.XXXXXX)
root=$work/root
netns=hive-fresh-$$
veth=hfr$$
proxy_pid=
runner_pid=
cleanup() {
  local rc=$?
  # The runner's unshare kills the root's pid 1 when it dies, and with it every process in the root.
  [ -n "$runner_pid" ] && kill "$runner_pid" 2>/dev/null && wait "$runner_pid" 2>/dev/null
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  ip netns del "$netns" 2>/dev/null || true
  ip link del "$veth-h" 2>/dev/null || true
  # Every mount was made in the run's own mount namespace and is gone with it; never rm through one.
  if findmnt -rno TARGET | grep -q "^$work"; then
    say "left $work in place: something is still mounted under it"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
say "building a Debian 12 (bookworm) minbase root in $root"
sources=()
[ -f /etc/apt/sources.list.d/debian.sources ] && sources=(/etc/apt/sources.list.d/debian.sources)
mmdebstrap --quiet --mode=root --variant=minbase --include=ca-certificates bookworm "$root" "${sources[@]}"

# What Debian's installer writes and a bare root lacks; without it "localhost" goes to DNS.
echo fresh > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tfresh\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"

say "adding Node.js $(node --version) and npm $(npm --version) from this machine, under /usr/local"
node_modules_dir=$(npm root --global)
install -D -m 0755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$node_modules_dir/npm" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# This network's certificate authorities (a TLS-inspecting egress, here) are part of the machine, not of hive.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1
fi

say "cloning $(git -C "$repo" rev-parse --short HEAD) into /root/hive"
git clone --quiet --no-hardlinks "$repo" "$root/root/hive"
git -C "$root/root/hive" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"
# The workspace's shared material (shared/nixpkgs-lib: nixpkgs' real lib, which tests of real
# module-system evaluation use) goes next to the checkout, where the tests look for it.
source "$repo/scripts/nixpkgs-lib.sh"
if [ -d "$HIVE_NIXPKGS_LIB/lib" ]; then
  mkdir -p "$root/root/shared"
  cp -a "$HIVE_NIXPKGS_LIB" "$root/root/shared/nixpkgs-lib"
fi

say "network: namespace $netns, veth $veth-h $net.1 <-> $net.2, proxy on $net.1:3128"
ip netns add "$netns"
ip link add "$veth-h" type veth peer name "$veth-c" netns "$netns"
ip addr add "$net.1/30" dev "$veth-h"
ip link set "$veth-h" up
ip -n "$netns" addr add "$net.2/30" dev "$veth-c"
ip -n "$netns" link set "$veth-c" up
ip -n "$netns" link set lo up
"$repo/node_modules/.bin/jiti" "$repo/scripts/fresh-root-proxy.ts" "$net.1" 3128 2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 50); do grep -q listening "$work/proxy.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/proxy.log" || { cat "$work/proxy.log" >&2; say "the proxy did not start"; exit 1; }
say "root ready in $((SECONDS - started)) s"

# Runs in the new namespaces: make the root the namespace's root (pivot_root, then drop this machine's
# tree), give it /proc, /sys, /dev and /run, and run the commands in it. A plain chroot would leave this
# machine's tree in the namespace, where `nsenter --mount` lands (so did the lab's execOnNode, once).
# Output lines starting "fresh-root:" are this script's; everything else is the README's commands.
enter_root='
  set -e
  root=$1
  mount --bind "$root" "$root"
  cd "$root"
  mkdir .host
  pivot_root . .host
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount --rbind /.host/dev /dev
  mount -t tmpfs -o mode=1777 tmpfs /dev/shm
  mount -t tmpfs -o mode=0755 tmpfs /run
  umount -l /.host
  rmdir /.host
  exec /usr/bin/env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    http_proxy="$2" https_proxy="$2" HTTP_PROXY="$2" HTTPS_PROXY="$2" COMMANDS="$4" \
    ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"} \
    /bin/bash -c "$3"
'
commands=${HIVE_FRESH_ROOT_COMMANDS:-$'npm run demo\nnpm test'}
readme_commands='
  set -u
  cd /root/hive
  while IFS= read -r command; do
    [ -n "$command" ] || continue
    echo "fresh-root: + $command" >&2
    begin=$SECONDS
    if $command < /dev/null; then
      echo "fresh-root: PASSED $command ($((SECONDS - begin)) s)" >&2
    else
      rc=$?
      echo "fresh-root: FAILED $command (exit $rc after $((SECONDS - begin)) s)" >&2
      exit $rc
    fi
  done <<< "$COMMANDS"
'
# In the background and waited for, so that a TERM or INT runs the cleanup at once.
timeout --kill-after=30s "$timeout" nsenter --net="/run/netns/$netns" \
  unshare --mount --pid --fork --kill-child --propagation private \
  bash -c "$enter_root" enter-root "$root" "http://$net.1:3128" "$readme_commands" "$commands" &
runner_pid=$!
rc=0
wait "$runner_pid" || rc=$?
runner_pid=
sed 's/^/  /' "$work/proxy.log" >&2
[ "$rc" -eq 0 ] || { say "FAILED (exit $rc) after $((SECONDS - started)) s"; exit "$rc"; }

# setup.sh must leave tracked files alone, or every deployment record says "+dirty".
changed=$(git -C "$root/root/hive" status --porcelain --untracked-files=no)
if [ -n "$changed" ]; then
  say "FAILED: the README's commands changed tracked files:"
  echo "$changed" >&2
  exit 1
fi
say "PASSED: ${commands//$'\n'/, then } in a fresh Debian 12 root, tracked files unchanged, $((SECONDS - started)) s in all"
