# Packaging flake for hive (npm package nix-hive): the CLI, an app, a dev shell and the NixOS module.
# The lab's node systems live in ./lab/flake.nix, which needs no inputs.
#
# The npm dependencies come from package-lock.json itself: importNpmLock fetches each package from its
# `resolved` URL and checks it against the lock's `integrity` hash, so there is no npmDepsHash to keep
# in step with the lock. CI checks this file offline against a stand-in for nixpkgs
# (test/flake/nixpkgs-stand-in, scripts/check-flake.sh); building it needs nixpkgs and the network.
{
  description = "hive: deploy NixOS fleets with health checks and automatic rollback";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      package = builtins.fromJSON (builtins.readFile ./package.json);
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.buildNpmPackage {
          pname = package.name;
          inherit (package) version;
          src = self;
          nodejs = pkgs.nodejs_20;
          npmDeps = pkgs.importNpmLock { npmRoot = ./.; };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          npmBuildScript = "build";
          # Install scripts only build ssh2's optional native crypto; hive runs on its pure-JS code.
          npmRebuildFlags = [ "--ignore-scripts" ];
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
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/hive";
        };
      });

      # config.hive; hive adds it to each node by itself, import it by hand only where it cannot
      # (see docs/inventory-and-vars.md).
      # import: `nix flake check` wants a module (a function or an attribute set), not a path.
      nixosModules.hive = import ./nix/hive-module.nix;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.nodejs_20 pkgs.nix pkgs.openssh pkgs.just ];
        };
      });
    };
}
