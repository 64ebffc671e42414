# Builder of a benchmark system: the lab's system (build-system.sh), plus links to its etc, units and packages.
. "$labBuilder"
ln -s "$etc" "$out/etc"
ln -s "$units" "$out/units"
ln -s "$systemPath" "$out/sw"
echo "$kernelParams" > "$out/kernel-params"
echo "$nixosLabel" > "$out/nixos-label"
