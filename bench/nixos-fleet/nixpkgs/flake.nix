# A nixpkgs-shaped flake for hive's real-fleet benchmark: nixpkgs' real `lib`, and generated NixOS-like
# modules and packages in nixpkgs' layout. `lib.nixosSystem` evaluates a system as nixpkgs' does.
{
  description = "nixpkgs-shaped input of hive's real-fleet benchmark (generated)";

  outputs = { self }:
    let
      lib = (import ./lib).extend (final: prev: {
        nixosSystem = args: import ./nixos/lib/eval-config.nix (args // { lib = final; });
      });
    in
    {
      inherit lib;
      nixosModules.default = ./nixos/modules/module-list.nix;
      legacyPackages.x86_64-linux = import ./pkgs/top-level { inherit lib; localSystem = "x86_64-linux"; };
    };
}
