# NixOS' misc/version.nix, plus the lab's knobs: what the toplevel and /etc/os-release say and how it activates.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.system.nixos;
in
{
  options.system = {
    nixos = {
      release = mkOption { readOnly = true; type = types.str; default = "25.11"; description = "The NixOS release."; };
      codeName = mkOption { readOnly = true; type = types.str; default = "Fleet"; description = "The release's code name."; };
      version = mkOption {
        internal = true;
        type = types.str;
        default = "${cfg.release}pre-${config.lab.version}";
        description = "The full NixOS version.";
      };
      label = mkOption {
        type = types.strMatching "[a-zA-Z0-9:_\\.-]*";
        default = lib.concatStringsSep "-" ((lib.sort (x: y: x < y) cfg.tags) ++ [ cfg.version ]);
        description = "The label of the system in the boot menu.";
      };
      tags = mkOption { type = types.listOf types.str; default = [ ]; description = "Strings prefixed to the label."; };
    };
    stateVersion = mkOption {
      type = types.str;
      default = cfg.release;
      description = "The release whose stateful data this system was first installed with.";
    };
    configurationRevision = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "The flake revision the system was built from.";
    };
  };

  # The lab's stand-ins for what a real toplevel does (lab/flake.nix's knobs).
  options.lab = {
    version = mkOption { type = types.str; default = "1"; description = "The fleet's version: changing it changes every toplevel."; };
    payloadKiB = mkOption { type = types.ints.unsigned; default = 0; description = "Filler in the toplevel, so a copy moves bytes."; };
    activationSleep = mkOption { type = types.ints.unsigned; default = 0; description = "Seconds the activation sleeps."; };
    failActivation = mkOption { type = types.bool; default = false; description = "Whether the activation fails."; };
    unitsFailed = mkOption { type = types.bool; default = false; description = "Whether the activation reports failed units."; };
    unhealthy = mkOption { type = types.bool; default = false; description = "Whether the web service's /health is missing."; };
  };

  config.environment.etc."os-release".text = ''
    NAME=NixOS
    ID=nixos
    VERSION="${cfg.version} (${cfg.codeName})"
    VERSION_ID="${cfg.release}"
    BUILD_ID="${cfg.version}"
    PRETTY_NAME="NixOS ${cfg.release} (${cfg.codeName})"
    IMAGE_VERSION="${cfg.label}"
  '';
}
