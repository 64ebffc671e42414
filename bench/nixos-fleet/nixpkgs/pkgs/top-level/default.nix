# nixpkgs' pkgs/top-level, reduced: one package set per platform, config and overlays, a fixpoint overlays extend,
# with callPackage filling each package's arguments from the set.
{ lib, localSystem, config ? { }, overlays ? [ ] }:
let
  hostPlatform = lib.systems.elaborate localSystem;
  stdenv = import ../stdenv { inherit lib hostPlatform config; };
  trivialBuilders = import ../build-support/trivial-builders.nix { inherit lib stdenv; };

  base = self: trivialBuilders // {
    inherit lib config stdenv;
    pkgs = self;
    newScope = extra: lib.callPackageWith (self // extra);
    callPackage = self.newScope { };
  };
  allPackages = import ./all-packages.nix { inherit lib; };
in
lib.fix (lib.foldl' (lib.flip lib.extends) base ([ allPackages ] ++ overlays))
