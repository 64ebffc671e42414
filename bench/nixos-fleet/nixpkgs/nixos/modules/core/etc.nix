# NixOS' system/etc/etc.nix: environment.etc entries, each text a file in the store, linked into one `etc` tree.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault mkIf types;

  etcEntry = { name, config, options, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether this file is generated."; };
      target = mkOption { type = types.str; description = "Path of the file relative to /etc."; };
      text = mkOption { type = types.nullOr types.lines; default = null; description = "Text of the file."; };
      source = mkOption { type = types.path; description = "Path of the file's source."; };
      mode = mkOption { type = types.str; default = "symlink"; example = "0600"; description = "Mode of a copied file, or symlink."; };
      user = mkOption { type = types.str; default = "+0"; description = "Owner of a copied file."; };
      group = mkOption { type = types.str; default = "+0"; description = "Group of a copied file."; };
    };
    config = {
      target = mkDefault name;
      source = mkIf (config.text != null) (
        let name' = "etc-" + lib.replaceStrings [ "/" ] [ "-" ] name;
        in lib.mkDerivedConfig options.text (pkgs.writeText name')
      );
    };
  };

  entries = lib.filter (f: f.enable) (lib.attrValues config.environment.etc);
in
{
  options = {
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule etcEntry);
      default = { };
      description = "Files in /etc.";
    };
  };

  config.system.build.etc = pkgs.runCommand "etc" { } (lib.concatMapStrings
    (entry: ''
      mkdir -p "$out/$(dirname ${lib.escapeShellArg entry.target})"
      ln -s ${entry.source} "$out/"${lib.escapeShellArg entry.target}
    '')
    entries);
}
