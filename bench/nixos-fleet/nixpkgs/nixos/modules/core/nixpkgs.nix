# NixOS' misc/nixpkgs.nix: each system instantiates its own package set from nixpkgs.* and passes it as `pkgs`.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.nixpkgs;
  overlayType = lib.mkOptionType {
    name = "nixpkgs-overlay";
    description = "nixpkgs overlay";
    check = lib.isFunction;
    merge = lib.mergeOneOption;
  };
  configType = lib.mkOptionType {
    name = "nixpkgs-config";
    description = "nixpkgs config";
    check = x: lib.isAttrs x || lib.isFunction x;
    merge = loc: defs: lib.foldr (def: acc: lib.recursiveUpdate acc (if lib.isFunction def.value then def.value { } else def.value)) { } defs;
  };
in
{
  options.nixpkgs = {
    system = mkOption {
      type = types.str;
      example = "x86_64-linux";
      description = "The platform the system runs on.";
    };
    hostPlatform = mkOption {
      type = types.either types.str types.attrs;
      default = cfg.system;
      defaultText = lib.literalExpression "config.nixpkgs.system";
      apply = lib.systems.elaborate;
      description = "The platform the system runs on, elaborated.";
    };
    config = mkOption {
      type = configType;
      default = { };
      example = { allowUnfree = true; };
      description = "The package set's configuration.";
    };
    overlays = mkOption {
      type = types.listOf overlayType;
      default = [ ];
      description = "Overlays applied to the package set.";
    };
    pkgs = mkOption {
      type = types.nullOr types.attrs;
      default = null;
      description = "A package set to use instead of instantiating one.";
    };
  };

  config._module.args.pkgs =
    if cfg.pkgs != null then cfg.pkgs
    else import ../../../pkgs/top-level {
      inherit lib;
      localSystem = cfg.hostPlatform;
      config = cfg.config;
      overlays = cfg.overlays;
    };
}
