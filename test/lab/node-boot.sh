#!/bin/sh
# Boots one lab node inside its fresh network and mount namespaces, then becomes its init.
# Usage: node-boot.sh NODE_DIR LAB_ETC_DIR ADDRESS/PREFIX INIT_SCRIPT PRCTL_SYSCALL_NR HOSTNAME
# The lab starts it as `nsenter --net=NETNS unshare --mount --uts sh node-boot.sh ...`;
# it refuses to run anywhere else, since its mounts would land on the host.
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
node_dir=$1 etc_dir=$2 address=$3 init_script=$4 prctl_nr=$5 node_name=$6

if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "node-boot: not in a private mount namespace; refusing to mount over the host's dirs" >&2
  exit 1
fi
if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
  echo "node-boot: not in the node's network namespace" >&2
  exit 1
fi
if [ "$(readlink /proc/self/ns/uts)" != "$(readlink /proc/1/ns/uts)" ]; then
  hostname "$node_name"
fi

# A new netns has lo down, and the node's end of the veth arrives bare.
printf 'link set lo up\naddr add %s dev eth0\nlink set eth0 up\n' "$address" | ip -batch -

# Our copies of the host's /run/netns mounts would keep other labs' namespaces (and their veths)
# alive after `ip netns del`; this namespace has no use for them.
if mountpoint -q /run/netns; then umount -l /run/netns; fi

# Bind mounts first: they read sources in the lab dir, which the tmpfs mounts could hide.
mount --bind "$node_dir/nix" /nix
mount --bind "$node_dir/home" /home
mount --bind "$node_dir/root" /root
for file in passwd group shadow sudoers; do
  mount --bind "$etc_dir/$file" "/etc/$file"
done
mount --bind "$etc_dir/nix.conf" /etc/nix/nix.conf
# sshd logs logins here itself (UsePAM no); keep that out of the host's logs.
for file in wtmp btmp lastlog; do
  if [ -e "/var/log/$file" ]; then mount --bind "$node_dir/log/$file" "/var/log/$file"; fi
done
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m lab-run /run
mount -t tmpfs -o mode=1777,nosuid,nodev,size=1g lab-tmp /tmp
mkdir -m 0755 /run/sshd

# Like NixOS at boot: run the system the last `boot`/`switch` chose, and start its service.
if [ -e /nix/var/nix/lab-boot-system/www ]; then
  system=$(readlink -f /nix/var/nix/lab-boot-system)
  ln -sfn "$system" /run/booted-system
  ln -sfn "$system" /run/current-system
  setsid /bin/sh -c 'echo $$ > /run/hive-lab-web.pid; exec busybox httpd -f -p 80 -h "$1/www"' \
    sh "$system" < /dev/null > /run/hive-lab-web.log 2>&1 &
fi

exec perl "$init_script" "$prctl_nr" "$node_dir/sshd_config" "$node_dir/sshd.log"
