// The generated NixOS-like module set of the real-fleet benchmark: service, program and hardware modules in the
// shape of nixpkgs' nixos/modules (options of many types, defaults, config gated by enable and reading other
// modules' options), the module list, and the roles that enable some of them on each node.
import { appName, type GeneratedFile, makeRandom } from "./nixos-fleet-packages.js";

/** The hand-written modules under bench/nixos-fleet/nixpkgs/nixos/modules/core, first in the module list. */
export const CORE_MODULES = ["assertions", "nixpkgs", "version", "users-groups", "system-path", "etc", "systemd", "networking", "boot", "top-level"];

export type ModuleKind = "daemon" | "program" | "hardware" | "dependent";

export interface ModuleSpec {
  index: number;
  kind: ModuleKind;
  /** The attribute under services, programs or hardware. */
  name: string;
  /** Path under nixos/modules. */
  path: string;
  /** For a dependent service: the daemon it uses as a backend. */
  backend?: string;
  /** Daemons with an `instances` option (an attrsOf submodule). */
  hasInstances: boolean;
}

const CATEGORIES = ["web-servers", "databases", "monitoring", "networking", "security", "misc"];
const pad = (i: number) => String(i).padStart(4, "0");

/** 55% daemons, 20% programs, 15% hardware, 10% services that use a daemon as their backend. */
export function planModules(count: number, seed = 2): ModuleSpec[] {
  const random = makeRandom(seed);
  const specs: ModuleSpec[] = [];
  const daemons: string[] = [];
  for (let i = 0; i < count; i++) {
    const slot = i % 20;
    const category = CATEGORIES[i % CATEGORIES.length]!;
    if (slot >= 18 && daemons.length > 0) {
      const backend = daemons[Math.floor(random() * daemons.length)]!;
      specs.push({ index: i, kind: "dependent", name: `svc${pad(i)}`, path: `services/${category}/svc${pad(i)}.nix`, backend, hasInstances: false });
    } else if (slot >= 15 && slot < 18) {
      specs.push({ index: i, kind: "hardware", name: `hw${pad(i)}`, path: `hardware/hw${pad(i)}.nix`, hasInstances: false });
    } else if (slot >= 11 && slot < 15) {
      specs.push({ index: i, kind: "program", name: `prog${pad(i)}`, path: `programs/prog${pad(i)}.nix`, hasInstances: false });
    } else {
      specs.push({ index: i, kind: "daemon", name: `svc${pad(i)}`, path: `services/${category}/svc${pad(i)}.nix`, hasInstances: i % 3 === 0 });
      daemons.push(`svc${pad(i)}`);
    }
  }
  return specs;
}

function renderDaemon(spec: ModuleSpec): string {
  const { name, index: i } = spec;
  const imports: string[] = [];
  if (i % 12 === 1) imports.push(`(lib.mkRenamedOptionModule [ "services" "${name}" "listenPort" ] [ "services" "${name}" "port" ])`);
  if (i % 25 === 2) imports.push(`(lib.mkRemovedOptionModule [ "services" "${name}" "legacyMode" ] "${name} dropped its legacy mode; nothing replaces it.")`);
  const backend = spec.backend;
  const backendOption = backend
    ? [
        "    backendUrl = mkOption {",
        "      type = types.str;",
        `      default = "http://\${config.services.${backend}.listenAddress}:\${toString config.services.${backend}.port}";`,
        `      defaultText = literalExpression ''"http://\${config.services.${backend}.listenAddress}:\${toString config.services.${backend}.port}"'';`,
        `      description = "Where ${name} finds its backend, ${backend}.";`,
        "    };",
      ]
    : [];
  const instances = spec.hasInstances
    ? [
        "    instances = mkOption {",
        "      type = types.attrsOf (types.submodule ({ name, ... }: {",
        "        options = {",
        "          enable = mkOption { type = types.bool; default = true; description = \"Whether this instance runs.\"; };",
        "          port = mkOption { type = types.port; description = \"Port of the instance.\"; };",
        `          dataDir = mkOption { type = types.str; default = "/var/lib/${name}/\${name}"; description = "State of the instance."; };`,
        "          extraConfig = mkOption { type = types.lines; default = \"\"; description = \"Lines appended to its configuration.\"; };",
        "        };",
        "      }));",
        "      default = { };",
        `      description = "Further instances of ${name}, each its own unit.";`,
        "    };",
      ]
    : [];
  const instanceUnits = spec.hasInstances
    ? [
        "    {",
        "      systemd.services = lib.mapAttrs' (n: inst: lib.nameValuePair \"" + name + "-${n}\" {",
        `        description = "${name} instance \${n}";`,
        "        wantedBy = [ \"multi-user.target\" ];",
        "        serviceConfig.ExecStart = \"${lib.getExe cfg.package} --port ${toString inst.port} --data ${inst.dataDir}\";",
        "        serviceConfig.User = cfg.user;",
        "        restartTriggers = [ inst.extraConfig ];",
        "      }) (lib.filterAttrs (_: inst: inst.enable) cfg.instances);",
        "    }",
      ]
    : [];
  const staticIds = i % 3 === 0 ? [`    { ids.uids.${name} = ${1000 + i}; ids.gids.${name} = ${1000 + i}; }`] : [];
  return `# Generated ${spec.backend ? `service ${name}, which uses ${backend} as its backend` : `daemon ${name}`}, in the shape of a NixOS service module.
{ config, lib, pkgs, ... }:
let
  inherit (lib) literalExpression mkEnableOption mkIf mkOption mkPackageOption types;
  cfg = config.services.${name};
  settingsValue = types.oneOf [ types.str types.int types.bool (types.listOf types.str) ];
in
{
  imports = [${imports.map((m) => ` ${m}`).join("")} ];

  options.services.${name} = {
    enable = mkEnableOption "${name}, a generated daemon";
    package = mkPackageOption pkgs "${appName(i)}" { };
    port = mkOption { type = types.port; default = ${10000 + i}; description = "Port ${name} listens on."; };
    listenAddress = mkOption { type = types.str; default = "127.0.0.1"; example = "0.0.0.0"; description = "Address ${name} listens on."; };
    openFirewall = mkOption { type = types.bool; default = false; description = "Whether to open the port in the firewall."; };
    user = mkOption { type = types.str; default = "${name}"; description = "User ${name} runs as."; };
    group = mkOption { type = types.str; default = "${name}"; description = "Group ${name} runs as."; };
    dataDir = mkOption { type = types.path; default = "/var/lib/${name}"; description = "Where ${name} keeps its state."; };
    logLevel = mkOption { type = types.enum [ "debug" "info" "warn" "error" ]; default = "info"; description = "How much ${name} logs."; };
    workers = mkOption { type = types.ints.between 1 256; default = ${1 + (i % 8)}; description = "Worker processes."; };
    timeout = mkOption { type = types.either types.int types.str; default = "${30 + (i % 60)}s"; description = "Request timeout."; };
    extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra command line arguments."; };
    environment = mkOption { type = types.attrsOf types.str; default = { }; description = "Extra environment of the service."; };
    environmentFile = mkOption { type = types.nullOr types.path; default = null; description = "File with secrets in the environment."; };
${backendOption.join("\n")}
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf settingsValue;
        options = {
          log_level = mkOption { type = types.str; default = cfg.logLevel; description = "Log level."; };
          listen = mkOption { type = types.str; default = "\${cfg.listenAddress}:\${toString cfg.port}"; description = "Listen address."; };
          data_dir = mkOption { type = types.str; default = cfg.dataDir; description = "State directory."; };
          max_connections = mkOption { type = types.ints.positive; default = ${64 * (1 + (i % 16))}; description = "Connection limit."; };
        };
      };
      default = { };
      description = "Configuration of ${name}, written as JSON.";
    };
${instances.join("\n")}
  };

  config = lib.mkMerge [
${staticIds.join("\n")}
    (mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [
        { assertion = cfg.user != "root"; message = "services.${name}.user must not be root."; }
        { assertion = cfg.openFirewall -> cfg.listenAddress != "127.0.0.1"; message = "services.${name}.openFirewall is set, but ${name} listens on 127.0.0.1 only."; }
      ];
      users.users = mkIf (cfg.user == "${name}") {
        ${name} = { isSystemUser = true; group = cfg.group; home = cfg.dataDir; description = "${name} daemon user"; };
      };
      users.groups = mkIf (cfg.group == "${name}") { ${name} = { }; };
      environment.etc."${name}/config.json".text = builtins.toJSON cfg.settings;
      environment.systemPackages = [ cfg.package ];
      networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall [ cfg.port ];
      systemd.services.${name} = {
        description = "${name} daemon";
        wantedBy = [ "multi-user.target" ];
        after = [ "network.target" ${spec.backend ? `"${backend}.service" ` : ""}];
        environment = cfg.environment // { ${name.toUpperCase()}_DATA = cfg.dataDir; };
${i % 4 === 0 ? `        preStart = ''\n          mkdir -p \${cfg.dataDir}\n          chown \${cfg.user}:\${cfg.group} \${cfg.dataDir}\n        '';\n` : ""}        serviceConfig = {
          ExecStart = "\${lib.getExe cfg.package} --config /etc/${name}/config.json --workers \${toString cfg.workers} --timeout \${toString cfg.timeout} \${lib.escapeShellArgs cfg.extraArgs}";
          User = cfg.user;
          Group = cfg.group;
          Restart = "on-failure";
          StateDirectory = "${name}";
          ProtectSystem = "strict";
          PrivateTmp = true;
          NoNewPrivileges = true;
          EnvironmentFile = lib.optional (cfg.environmentFile != null) cfg.environmentFile;
        };
        restartTriggers = [ config.environment.etc."${name}/config.json".source ];
      };
    }
${backend ? `    {\n      services.${backend}.enable = lib.mkDefault true;\n      services.${backend}.settings.client_${name} = cfg.backendUrl;\n    }` : ""}
${instanceUnits.join("\n")}
    ]))
  ];
}
`;
}

function renderProgram(spec: ModuleSpec): string {
  const { name, index: i } = spec;
  return `# Generated program module ${name}, in the shape of NixOS' programs/*.nix.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkEnableOption mkIf mkOption mkPackageOption types;
  cfg = config.programs.${name};
in
{
  options.programs.${name} = {
    enable = mkEnableOption "${name}, a generated program";
    package = mkPackageOption pkgs "${appName(i)}" { };
    extraConfig = mkOption { type = types.lines; default = ""; description = "Lines of /etc/${name}rc."; };
    aliases = mkOption { type = types.attrsOf types.str; default = { ${name}l = "${name} --list"; }; description = "Shell aliases."; };
    variables = mkOption { type = types.attrsOf types.str; default = { }; description = "Variables set in every shell."; };
    plugins = mkOption { type = types.listOf types.package; default = [ ]; description = "Plugins installed with it."; };
    colors = mkOption { type = types.nullOr (types.enum [ "auto" "always" "never" ]); default = "auto"; description = "When it prints colours."; };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ] ++ cfg.plugins;
    environment.etc."${name}rc".text = ''
      # ${name} configuration (generated)
      color = \${if cfg.colors == null then "auto" else cfg.colors}
      \${cfg.extraConfig}
    '';
    environment.shellAliases = cfg.aliases;
    environment.variables = cfg.variables // { ${name.toUpperCase()}_CONFIG = "/etc/${name}rc"; };
  };
}
`;
}

function renderHardware(spec: ModuleSpec): string {
  const { name, index: i } = spec;
  return `# Generated hardware module ${name}, in the shape of NixOS' hardware/*.nix.
{ config, lib, ... }:
let
  inherit (lib) mkIf mkOption types;
  cfg = config.hardware.${name};
in
{
  options.hardware.${name} = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to support the ${name} device."; };
    kernelModules = mkOption { type = types.listOf types.str; default = [ "${name}" ]; description = "Kernel modules it needs."; };
    sysctl = mkOption { type = types.attrsOf (types.either types.int types.str); default = { "dev.${name}.ratio" = ${i % 100}; }; description = "sysctl settings it needs."; };
    powerProfile = mkOption { type = types.enum [ "performance" "balanced" "powersave" ]; default = "balanced"; description = "Power profile."; };
    firmware = mkOption { type = types.nullOr types.package; default = null; description = "Firmware package."; };
    quirks = mkOption { type = types.listOf (types.strMatching "[a-z0-9_]+"); default = [ ]; description = "Driver quirks."; };
  };

  config = mkIf cfg.enable {
    boot.kernelModules = cfg.kernelModules;
    boot.kernel.sysctl = cfg.sysctl;
    boot.kernelParams = [ "${name}.profile=\${cfg.powerProfile}" ] ++ map (q: "${name}.\${q}=1") cfg.quirks;
    environment.systemPackages = lib.optional (cfg.firmware != null) cfg.firmware;
  };
}
`;
}

export function renderModule(spec: ModuleSpec): string {
  if (spec.kind === "program") return renderProgram(spec);
  if (spec.kind === "hardware") return renderHardware(spec);
  return renderDaemon(spec);
}

/** Every generated module and the module list (paths under nixpkgs/). */
export function renderModuleSet(specs: readonly ModuleSpec[]): GeneratedFile[] {
  const files = specs.map((spec) => ({ path: `nixos/modules/${spec.path}`, text: renderModule(spec) }));
  files.push({
    path: "nixos/modules/module-list.nix",
    text: [
      "# Generated: every module of the system, as nixos/modules/module-list.nix lists them.",
      "[",
      ...CORE_MODULES.map((m) => `  ./core/${m}.nix`),
      ...specs.map((spec) => `  ./${spec.path}`),
      "]",
      "",
    ].join("\n"),
  });
  return files;
}
