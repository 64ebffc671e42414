#!/usr/bin/env bash
# Installs the real metrics parsers hive's tests validate `hive status --format openmetrics` with:
# Prometheus' promtool (the parser node_exporter's textfile collector uses), taken out of Debian's
# prometheus package into .tools/bin without installing the package (which would start a Prometheus
# server), and the OpenMetrics parser of Debian's python3-prometheus-client.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

if ! /usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
  echo "setup: installing python3-prometheus-client (OpenMetrics parser for tests)" >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-prometheus-client >/dev/null
fi

if ! command -v promtool >/dev/null && [ ! -x .tools/bin/promtool ]; then
  echo "setup: extracting promtool from Debian's prometheus package into .tools/bin" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || { echo "setup: apt-get download prometheus failed (run apt-get update?)" >&2; exit 1; }
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p .tools/bin
  mv "$work/usr/bin/promtool" .tools/bin/promtool
fi
