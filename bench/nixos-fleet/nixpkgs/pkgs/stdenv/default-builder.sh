# Builder of a benchmark package: one small executable, no references to its inputs.
mkdir -p "$out/bin"
printf '#!/bin/sh\necho %s\n' "$name" > "$out/bin/$binName"
chmod 555 "$out/bin/$binName"
