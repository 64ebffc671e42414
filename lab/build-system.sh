# Builder for a lab system: lays out a fake NixOS toplevel in $out (run by /bin/sh -e, no sandbox).
mkdir -p "$out/bin" "$out/www"

echo "$nodeVersion" > "$out/version"
echo "$nodeVersion (hive lab)" > "$out/nixos-version"
echo "$nodeName $nodeVersion" > "$out/www/index.html"
if [ -n "${webConfig:-}" ]; then cp "$webConfig" "$out/web.conf"; fi
if [ "$unhealthy" != 1 ]; then
  echo ok > "$out/www/health"
fi

# Filler makes the closure as big as asked; repeated text keeps it deterministic.
if [ "$payloadKiB" -gt 0 ]; then
  yes "hive lab filler for $nodeName, version $nodeVersion." | head -c "$((payloadKiB * 1024))" > "$out/payload"
fi

sed \
  -e "s|@out@|$out|g" \
  -e "s|@nodeName@|$nodeName|g" \
  -e "s|@nodeVersion@|$nodeVersion|g" \
  -e "s|@failActivation@|$failActivation|g" \
  -e "s|@unitsFailed@|$unitsFailed|g" \
  -e "s|@activationSleep@|$activationSleep|g" \
  "$switchScript" > "$out/bin/switch-to-configuration"
chmod 555 "$out/bin/switch-to-configuration"
