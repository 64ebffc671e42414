# Lab systems for hive's test fleet: fake NixOS toplevels, offline, built from ./nodes.json.
#
# Each toplevel is a plain derivation (no nixpkgs) whose bin/switch-to-configuration drives
# one busybox httpd "service" (hive-lab-web.service) inside a lab node. Knobs per node in
# nodes.json: version, failActivation, unitsFailed, unhealthy, activationSleep, payloadKiB,
# failBuild (a dependency of the toplevel fails to build).
#
# Node state the script keeps (all inside the node's own mount namespace):
#   /run/current-system            the active system (as on NixOS)
#   /run/hive-lab-web.pid, .log    the service's pid and output
#   /nix/var/nix/lab-boot-system   the system the node boots next (what a bootloader entry is
#                                  on NixOS); written by `boot` and `switch`
{
  description = "hive lab systems (fake NixOS toplevels for the lab fleet)";

  outputs = { self }:
    let
      data = builtins.fromJSON (builtins.readFile ./nodes.json);
      system = data.system or "x86_64-linux";
      toBool = v: if v then "1" else "0";

      # A dependency of each toplevel, as a NixOS system has hundreds: the web service's config.
      # failBuild makes it fail to build, with a message in its own build log.
      mkWebConfig = name: knobs: builtins.derivation {
        inherit system;
        name = "lab-web-config-${name}";
        builder = "/bin/sh";
        args = [ "-c" ''
          echo "writing the web service's configuration for $nodeName"
          if [ "$failBuild" = 1 ]; then
            echo "web.conf line 3: unknown setting 'listne' (did you mean 'listen'?)" >&2
            exit 1
          fi
          echo "listen 80" > "$out"
        '' ];
        PATH = "/usr/bin:/bin";
        nodeName = name;
        failBuild = toBool (knobs.failBuild or false);
      };

      mkToplevel = name: knobs:
        let
          version = toString (knobs.version or data.version or "1");
        in
        builtins.derivation {
          inherit system;
          name = "nixos-system-${name}-${version}";
          builder = "/bin/sh";
          args = [ "-e" ./build-system.sh ];
          PATH = "/usr/bin:/bin";
          nodeName = name;
          nodeVersion = version;
          failActivation = toBool (knobs.failActivation or false);
          unitsFailed = toBool (knobs.unitsFailed or false);
          unhealthy = toBool (knobs.unhealthy or false);
          activationSleep = toString (knobs.activationSleep or 0);
          payloadKiB = toString (knobs.payloadKiB or 0);
          webConfig = mkWebConfig name knobs;
          switchScript = ./switch-to-configuration.sh;
        };

      toplevels = builtins.mapAttrs mkToplevel (data.nodes or { });
    in
    {
      nixosConfigurations = builtins.mapAttrs
        (name: toplevel: {
          config.system.build.toplevel = toplevel;
        })
        toplevels;

      packages.${system} = toplevels;
    };
}
