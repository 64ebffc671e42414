# NixOS' tasks/network-interfaces.nix and services/networking/firewall.nix, reduced to their options and /etc files.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking;
  fw = cfg.firewall;

  addressOpts = v: {
    options = {
      address = mkOption { type = types.str; description = "IPv${toString v} address."; };
      prefixLength = mkOption { type = types.addCheck types.int (n: n >= 0 && n <= (if v == 4 then 32 else 128)); description = "Prefix length."; };
    };
  };
  interfaceOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The interface's name."; };
      useDHCP = mkOption { type = types.nullOr types.bool; default = null; description = "Whether to use DHCP."; };
      ipv4.addresses = mkOption { type = types.listOf (types.submodule (addressOpts 4)); default = [ ]; description = "IPv4 addresses."; };
      ipv6.addresses = mkOption { type = types.listOf (types.submodule (addressOpts 6)); default = [ ]; description = "IPv6 addresses."; };
      mtu = mkOption { type = types.nullOr types.ints.u16; default = null; description = "MTU."; };
    };
  };
  portRange = types.submodule {
    options = {
      from = mkOption { type = types.port; description = "First port."; };
      to = mkOption { type = types.port; description = "Last port."; };
    };
  };
  rules = lib.concatStringsSep "\n" (
    map (p: "-A nixos-fw -p tcp --dport ${toString p} -j nixos-fw-accept") (lib.unique fw.allowedTCPPorts)
    ++ map (p: "-A nixos-fw -p udp --dport ${toString p} -j nixos-fw-accept") (lib.unique fw.allowedUDPPorts)
    ++ map (r: "-A nixos-fw -p tcp --dport ${toString r.from}:${toString r.to} -j nixos-fw-accept") fw.allowedTCPPortRanges
  );
in
{
  options.networking = {
    hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
      description = "The machine's host name.";
    };
    domain = mkOption { type = types.nullOr types.str; default = null; description = "The machine's domain."; };
    fqdn = mkOption {
      readOnly = true;
      type = types.str;
      default = if cfg.domain != null then "${cfg.hostName}.${cfg.domain}" else cfg.hostName;
      description = "The fully qualified domain name.";
    };
    interfaces = mkOption { type = types.attrsOf (types.submodule interfaceOpts); default = { }; description = "Network interfaces."; };
    nameservers = mkOption { type = types.listOf types.str; default = [ ]; description = "DNS servers."; };
    extraHosts = mkOption { type = types.lines; default = ""; description = "Lines of /etc/hosts."; };
    firewall = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the firewall is on."; };
      allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; description = "Open TCP ports."; };
      allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; description = "Open UDP ports."; };
      allowedTCPPortRanges = mkOption { type = types.listOf portRange; default = [ ]; description = "Open TCP port ranges."; };
      extraCommands = mkOption { type = types.lines; default = ""; description = "Extra iptables commands."; };
      package = mkOption { type = types.package; default = pkgs.iptables; description = "The iptables package."; };
    };
  };

  config = {
    environment.etc.hostname.text = "${cfg.hostName}\n";
    environment.etc.hosts.text = ''
      127.0.0.1 localhost
      ::1 localhost
      127.0.0.2 ${cfg.fqdn} ${cfg.hostName}
      ${cfg.extraHosts}
    '';
    environment.etc."resolv.conf".text = lib.concatMapStrings (ns: "nameserver ${ns}\n") cfg.nameservers;
    environment.etc."firewall/rules".text = lib.mkIf fw.enable ''
      ${rules}
      ${fw.extraCommands}
    '';
    environment.systemPackages = lib.mkIf fw.enable [ fw.package ];
    systemd.services.firewall = lib.mkIf fw.enable {
      description = "Firewall";
      wantedBy = [ "multi-user.target" ];
      path = [ fw.package ];
      script = "iptables-restore < /etc/firewall/rules";
      restartTriggers = [ rules ];
    };
  };
}
