# Packaging flake for hive (npm package nix-hive): the CLI, an app, a dev shell and the NixOS module.
# The lab's node systems live in ./lab/flake.nix, which needs no inputs.
{
  description = "hive: deploy NixOS fleets with health checks and automatic rollback";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.buildNpmPackage {
          pname = "nix-hive";
          version = (builtins.fromJSON (builtins.readFile ./package.json)).version;
          src = self;
          nodejs = pkgs.nodejs_20;
          # Update after changing package-lock.json: nix run nixpkgs#prefetch-npm-deps package-lock.json
          npmDepsHash = pkgs.lib.fakeHash;
          npmBuildScript = "build";
          # hive runs nix (and git, for flake revisions) at run time; it speaks SSH itself.
          nativeBuildInputs = [ pkgs.makeWrapper ];
          postInstall = ''
            wrapProgram $out/bin/hive --prefix PATH : ${pkgs.lib.makeBinPath [ pkgs.nix pkgs.git ]}
          '';
          meta = {
            description = "Deploy NixOS fleets: parallel tag-based deploys, health checks, rollback";
            mainProgram = "hive";
            license = pkgs.lib.licenses.mit;
          };
        };
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.system}.default}/bin/hive";
        };
      });

      # config.hive; hive adds it to each node by itself, import it by hand only where it cannot
      # (see docs/inventory-and-vars.md).
      nixosModules.hive = ./nix/hive-module.nix;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.nodejs_20 pkgs.nix pkgs.openssh pkgs.just ];
        };
      });
    };
}
