# NixOS' config/system-path.nix and shells-environment.nix: the system's packages, variables and aliases.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.environment;
  exportVariables = lib.concatStringsSep "\n" (lib.mapAttrsToList
    (name: value: "export ${name}=${lib.escapeShellArg (if lib.isList value then lib.concatStringsSep ":" value else value)}")
    cfg.variables);
  aliases = lib.concatStringsSep "\n" (lib.mapAttrsToList (name: value: "alias -- ${name}=${lib.escapeShellArg value}") cfg.shellAliases);
in
{
  options.environment = {
    systemPackages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages in the system profile."; };
    defaultPackages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages every system has."; };
    pathsToLink = mkOption { type = types.listOf types.str; default = [ ]; description = "Directories of the packages to link."; };
    variables = mkOption {
      type = types.attrsOf (types.oneOf [ (types.listOf (types.oneOf [ types.int types.str types.path ])) types.int types.str types.path ]);
      default = { };
      apply = lib.mapAttrs (_: v: if lib.isList v then map toString v else toString v);
      description = "Variables in every shell.";
    };
    shellAliases = mkOption { type = types.attrsOf (types.nullOr (types.either types.str types.path)); default = { }; apply = lib.filterAttrs (_: v: v != null); description = "Aliases in every shell."; };
    extraInit = mkOption { type = types.lines; default = ""; description = "Shell lines run at login."; };
  };

  options.system.path = mkOption { type = types.package; internal = true; description = "The system profile."; };

  config = {
    environment.pathsToLink = [ "/bin" "/etc" "/lib" "/share" ];
    environment.systemPackages = cfg.defaultPackages;
    environment.defaultPackages = [ pkgs.coreutils pkgs.bash pkgs.util-linux ];
    environment.variables.PATH = [ "/run/current-system/sw/bin" ];
    environment.etc.profile.text = ''
      ${exportVariables}
      ${aliases}
      ${cfg.extraInit}
    '';
    system.path = pkgs.buildEnv {
      name = "system-path";
      paths = lib.unique cfg.systemPackages;
      inherit (cfg) pathsToLink;
    };
  };
}
