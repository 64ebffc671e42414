# A stand-in for nixpkgs, to check hive's flake.nix offline (scripts/check-flake.sh): see default.nix.
{
  description = "stand-in for nixpkgs: real lib, and checking fakes of what hive's flake.nix uses";

  outputs = { self }:
    let
      # scripts/check-flake.sh copies the real nixpkgs lib (../shared/nixpkgs-lib/lib) in beside this file.
      lib = import ./lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./default.nix { inherit lib system systems; });
    };
}
