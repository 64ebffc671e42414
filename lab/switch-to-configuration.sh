#!/bin/sh
# switch-to-configuration for a hive lab system: NixOS goals driving one busybox httpd service.
set -u

out=@out@
unit=hive-lab-web.service
pidfile=/run/hive-lab-web.pid
logfile=/run/hive-lab-web.log
bootlink=/nix/var/nix/lab-boot-system

usage() {
  echo "usage: switch-to-configuration [switch|boot|test|dry-activate]" >&2
  exit 1
}

# Running means alive and not a zombie (nothing may reap the old service at once).
is_running() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  state=$(sed -e 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
  [ "$state" != Z ]
}

stop_service() {
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if is_running "$pid"; then
    kill "$pid" 2>/dev/null
    i=0
    while is_running "$pid" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    is_running "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

# The service runs detached with its stdio off the ssh session, so the session can close.
start_service() {
  setsid /bin/sh -c 'echo $$ > "$1"; exec busybox httpd -f -p 80 -h "$2"' \
    sh "$pidfile" "$out/www" < /dev/null > "$logfile" 2>&1 &
  i=0
  until busybox wget -q -O /dev/null http://127.0.0.1:80/ 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then
      echo "error: $unit did not answer on port 80 within 10 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

activate() {
  if [ @activationSleep@ != 0 ]; then sleep @activationSleep@; fi
  if [ @failActivation@ = 1 ]; then
    echo "error: activation of @nodeName@ @nodeVersion@ failed (failActivation is set); nothing was changed" >&2
    exit 1
  fi
  [ "$1" = switch ] && ln -sfn "$out" "$bootlink"
  ln -sfn "$out" /run/current-system
  echo "restarting the following units: $unit" >&2
  stop_service
  start_service || exit 1
  if [ @unitsFailed@ = 1 ]; then
    echo "warning: the following units failed: $unit" >&2
    exit 4
  fi
}

[ $# -eq 1 ] || usage
case "$1" in
  switch | test) activate "$1" ;;
  boot) ln -sfn "$out" "$bootlink" ;;
  dry-activate) echo "would restart the following units: $unit" ;;
  *) usage ;;
esac
exit 0
