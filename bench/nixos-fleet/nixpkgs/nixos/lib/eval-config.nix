# nixpkgs' nixos/lib/eval-config.nix, reduced: the base modules plus the user's, through lib.evalModules.
# The result is evalModules' own (config, options, extendModules, ...), as `lib.nixosSystem` returns it.
{ lib
, system ? null
, modules
, specialArgs ? { }
, baseModules ? import ../modules/module-list.nix
, extraModules ? [ ]
, prefix ? [ ]
}:
let
  systemModule = {
    _file = ./eval-config.nix;
    key = ./eval-config.nix;
    config = lib.mkIf (system != null) { nixpkgs.system = lib.mkDefault system; };
  };
in
lib.evalModules {
  inherit prefix;
  class = "nixos";
  modules = baseModules ++ extraModules ++ [ systemModule ] ++ modules;
  specialArgs = { modulesPath = builtins.toString ../modules; } // specialArgs;
}
