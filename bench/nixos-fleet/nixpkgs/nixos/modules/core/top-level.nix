# NixOS' system/activation/top-level.nix: the toplevel, built only when every assertion holds. It is a lab
# system (lab/build-system.sh, lab/switch-to-configuration.sh) that also carries the system's etc, units and path.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  knobs = config.lab;
  toBool = v: if v then "1" else "0";

  failedAssertions = map (x: x.message) (lib.filter (x: !x.assertion) config.assertions);

  baseSystem = builtins.derivation {
    inherit (pkgs.stdenv.hostPlatform) system;
    name = "nixos-system-${config.networking.hostName}-${knobs.version}";
    builder = "/bin/sh";
    args = [ "-e" ./toplevel-builder.sh ];
    PATH = "/usr/bin:/bin";
    labBuilder = ./build-system.sh;
    switchScript = ./switch-to-configuration.sh;
    nodeName = config.networking.hostName;
    nodeVersion = knobs.version;
    failActivation = toBool knobs.failActivation;
    unitsFailed = toBool knobs.unitsFailed;
    unhealthy = toBool knobs.unhealthy;
    activationSleep = toString knobs.activationSleep;
    payloadKiB = toString knobs.payloadKiB;
    # lab/build-system.sh copies the web service's configuration into the system.
    webConfig = pkgs.writeText "lab-web-config-${config.networking.hostName}" "listen 80\n";
    etc = config.system.build.etc;
    units = config.system.build.units;
    systemPath = config.system.path;
    kernelParams = toString config.boot.kernelParams;
    nixosLabel = config.system.nixos.label;
    configurationRevision = toString config.system.configurationRevision;
  };

  checked =
    if failedAssertions != [ ]
    then throw "\nFailed assertions:\n${lib.concatStringsSep "\n" (map (x: "- ${x}") failedAssertions)}"
    else lib.showWarnings config.warnings baseSystem;
in
{
  options.system.build = mkOption {
    type = types.submoduleWith { modules = [{ freeformType = types.lazyAttrsOf types.unspecified; }]; };
    default = { };
    description = "Derivations the system is built from; `toplevel` is the system.";
  };

  config.system.build.toplevel = checked;
}
