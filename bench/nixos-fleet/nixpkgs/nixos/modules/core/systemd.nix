# NixOS' system/boot/systemd.nix, reduced: services as submodules of unit options, one unit file each.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.systemd;

  # NixOS' unitOption: lists concatenate, single values must agree.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    description = "systemd unit option";
    check = x: lib.isBool x || lib.isInt x || lib.isString x || lib.isPath x || lib.isList x || lib.isDerivation x;
    merge = loc: defs:
      let defs' = lib.filterOverrides defs;
      in if lib.any (def: lib.isList def.value) defs'
      then lib.concatMap (def: lib.toList def.value) defs'
      else lib.mergeEqualOption loc defs';
  };

  unitNames = types.listOf (types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|target|timer|mount|path)");

  serviceOptions = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the unit is installed."; };
      description = mkOption { type = types.singleLineStr; default = ""; description = "The unit's description."; };
      documentation = mkOption { type = types.listOf types.str; default = [ ]; description = "URLs of its documentation."; };
      wantedBy = mkOption { type = unitNames; default = [ ]; description = "Units that want this one."; };
      requiredBy = mkOption { type = unitNames; default = [ ]; description = "Units that require this one."; };
      after = mkOption { type = unitNames; default = [ ]; description = "Units this one starts after."; };
      before = mkOption { type = unitNames; default = [ ]; description = "Units this one starts before."; };
      wants = mkOption { type = unitNames; default = [ ]; description = "Units this one wants."; };
      requires = mkOption { type = unitNames; default = [ ]; description = "Units this one requires."; };
      partOf = mkOption { type = unitNames; default = [ ]; description = "Units this one is part of."; };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
        description = "Environment variables of the service.";
      };
      path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ]; description = "Packages on the service's PATH."; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "The [Service] section."; };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "The [Unit] section."; };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands that start the service."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands run before the start."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands run after the start."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Whether a change restarts it."; };
      reloadIfChanged = mkOption { type = types.bool; default = false; description = "Whether a change reloads it."; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "Values whose change restarts it."; };
      startAt = mkOption { type = types.either types.str (types.listOf types.str); default = [ ]; apply = lib.toList; description = "When a timer starts it."; };
      startLimitBurst = mkOption { type = types.nullOr types.int; default = null; description = "Starts allowed per interval."; };
      startLimitIntervalSec = mkOption { type = types.nullOr types.int; default = null; description = "The start limit's interval."; };
    };
    config = {
      environment.PATH = lib.mkDefault (lib.concatMapStringsSep ":" (p: "${p}/bin") config.path);
      serviceConfig = lib.mkMerge [
        (lib.mkIf (config.script != "") { ExecStart = lib.mkDefault "${pkgs.writeShellScript "${name}-start" config.script}"; })
        (lib.mkIf (config.preStart != "") { ExecStartPre = "${pkgs.writeShellScript "${name}-pre-start" config.preStart}"; })
        (lib.mkIf (config.postStart != "") { ExecStartPost = "${pkgs.writeShellScript "${name}-post-start" config.postStart}"; })
      ];
      unitConfig = lib.mkMerge [
        (lib.mkIf (config.startLimitBurst != null) { StartLimitBurst = config.startLimitBurst; })
        (lib.mkIf (config.startLimitIntervalSec != null) { StartLimitIntervalSec = config.startLimitIntervalSec; })
      ];
    };
  };

  renderValue = v: if lib.isBool v then lib.boolToString v else toString v;
  renderSection = attrs: lib.concatStrings (lib.mapAttrsToList
    (key: value: lib.concatMapStrings (v: "${key}=${renderValue v}\n") (lib.toList value))
    attrs);
  renderUnit = name: service: ''
    [Unit]
    Description=${service.description}
    ${lib.optionalString (service.after != [ ]) "After=${toString service.after}"}
    ${lib.optionalString (service.wants != [ ]) "Wants=${toString service.wants}"}
    ${lib.optionalString (service.requires != [ ]) "Requires=${toString service.requires}"}
    X-Restart-Triggers=${builtins.hashString "sha256" (builtins.toJSON service.restartTriggers)}
    ${renderSection service.unitConfig}
    [Service]
    ${lib.concatStrings (lib.mapAttrsToList (n: v: "Environment=\"${n}=${toString v}\"\n") (lib.filterAttrs (_: v: v != null) service.environment))}
    ${renderSection service.serviceConfig}
    [Install]
    WantedBy=${toString service.wantedBy}
  '';

  enabledServices = lib.filterAttrs (_: s: s.enable) cfg.services;
  unitFiles = lib.mapAttrs (name: service: pkgs.writeText "unit-${name}.service" (renderUnit name service)) enabledServices;
in
{
  options.systemd = {
    services = mkOption { type = types.attrsOf (types.submodule serviceOptions); default = { }; description = "systemd services."; };
    globalEnvironment = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ])); default = { }; description = "Environment of every service."; };
    defaultUnit = mkOption { type = types.str; default = "multi-user.target"; description = "The unit started at boot."; };
  };

  config.system.build.units = pkgs.runCommand "system-units" { } ''
    mkdir -p $out
    ${lib.concatStrings (lib.mapAttrsToList (name: file: "ln -s ${file} $out/${name}.service\n") unitFiles)}
    ln -s ${cfg.defaultUnit} $out/default.target
  '';
}
