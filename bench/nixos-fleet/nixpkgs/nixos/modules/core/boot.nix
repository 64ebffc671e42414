# NixOS' boot options, reduced: kernel parameters, modules and sysctl, written to /etc.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.boot;
  sysctlValue = types.nullOr (types.oneOf [ types.bool types.str types.int ]);
in
{
  options.boot = {
    kernelParams = mkOption { type = types.listOf (types.strMatching "([^\"[:space:]]|\"[^\"]*\")+"); default = [ ]; description = "Kernel command line."; };
    kernelModules = mkOption { type = types.listOf types.str; default = [ ]; description = "Modules loaded at boot."; };
    blacklistedKernelModules = mkOption { type = types.listOf types.str; default = [ ]; description = "Modules never loaded."; };
    kernel.sysctl = mkOption { type = types.attrsOf sysctlValue; default = { }; description = "sysctl settings."; };
    tmp.cleanOnBoot = mkOption { type = types.bool; default = false; description = "Whether /tmp is emptied at boot."; };
  };

  config.environment.etc = {
    "sysctl.d/60-nixos.conf".text = lib.concatStrings (lib.mapAttrsToList
      (n: v: lib.optionalString (v != null) "${n}=${if v == false then "0" else if v == true then "1" else toString v}\n")
      cfg.kernel.sysctl);
    "modules-load.d/nixos.conf".text = lib.concatStringsSep "\n" cfg.kernelModules;
    "modprobe.d/nixos.conf".text = lib.concatMapStrings (m: "blacklist ${m}\n") cfg.blacklistedKernelModules;
  };
}
