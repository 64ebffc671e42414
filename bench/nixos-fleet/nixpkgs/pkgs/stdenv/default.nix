# nixpkgs' stdenv, reduced: a staged bootstrap (each stage's tools built with the previous stage's) and mkDerivation.
{ lib, hostPlatform, config }:
let
  inherit (hostPlatform) system;
  shell = "/bin/sh";
  toolNames = [ "binutils" "gcc" "glibc" "coreutils" "gnumake" "bash" "gnused" "gnugrep" "gawk" "patchelf" "findutils" "gnutar" ];

  bootstrapTools = builtins.derivation {
    inherit system;
    name = "bootstrap-tools";
    builder = shell;
    args = [ "-c" "echo bootstrap tools > $out" ];
  };

  mkStage = previous: n: lib.genAttrs toolNames (tool: builtins.derivation {
    inherit system;
    name = "${tool}-stage${toString n}";
    builder = shell;
    args = [ "-c" "echo ${tool}, bootstrap stage ${toString n} > $out" ];
    buildTools = lib.attrValues previous;
  });
  finalTools = lib.foldl' mkStage { inherit bootstrapTools; } (lib.range 1 4);

  setup = builtins.derivation {
    inherit system;
    name = "stdenv-linux";
    builder = shell;
    args = [ "-c" "echo stdenv > $out" ];
    initialPath = lib.attrValues finalTools;
  };

  stdenv = {
    inherit hostPlatform system shell setup;
    buildPlatform = hostPlatform;
    targetPlatform = hostPlatform;
    cc = finalTools.gcc;
    isLinux = hostPlatform.isLinux;
    mkDerivation = import ./make-derivation.nix { inherit lib config stdenv; };
  };
in
stdenv
