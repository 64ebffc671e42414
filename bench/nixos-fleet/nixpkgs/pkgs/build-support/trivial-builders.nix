# nixpkgs' trivial builders, reduced: runCommand, writeText, writeShellScript and buildEnv as /bin/sh derivations.
{ lib, stdenv }:
rec {
  runCommand = name: env: buildCommand: builtins.derivation ({
    inherit name buildCommand;
    inherit (stdenv) system;
    builder = stdenv.shell;
    args = [ "-ec" ". \"$buildCommandPath\"" ];
    passAsFile = [ "buildCommand" ];
    PATH = "/usr/bin:/bin";
    stdenv = stdenv.setup;
  } // env // { passAsFile = [ "buildCommand" ] ++ env.passAsFile or [ ]; });

  writeTextFile = { name, text, executable ? false, destination ? "" }:
    runCommand name { inherit text executable destination; passAsFile = [ "text" ]; } ''
      target="$out$destination"
      mkdir -p "$(dirname "$target")"
      cp "$textPath" "$target"
      if [ "$executable" = 1 ]; then chmod +x "$target"; fi
    '';

  writeText = name: text: writeTextFile { inherit name text; };

  writeShellScript = name: text: writeTextFile {
    inherit name;
    executable = true;
    text = "#!/bin/sh\n${text}";
  };

  buildEnv = { name, paths, pathsToLink ? [ "/" ] }:
    runCommand name { inherit paths pathsToLink; } ''
      mkdir -p "$out/bin"
      for p in $paths; do
        if [ -d "$p/bin" ]; then
          for f in "$p"/bin/*; do ln -sf "$f" "$out/bin/"; done
        fi
      done
    '';
}
