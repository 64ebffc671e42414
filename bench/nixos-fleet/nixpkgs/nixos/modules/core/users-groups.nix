# NixOS' config/users-groups.nix, reduced: users and groups as submodules, /etc/passwd and /etc/group from them.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkDefault mkIf types;
  cfg = config.users;
  ids = config.ids;

  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.passwdEntry types.str; default = name; description = "The user's name."; };
      description = mkOption { type = types.passwdEntry types.str; default = ""; description = "The GECOS field."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The user's id."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "Whether this is a system user."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "Whether this is a person's account."; };
      group = mkOption { type = types.str; default = ""; description = "The primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Other groups."; };
      home = mkOption { type = types.passwdEntry types.path; default = "/var/empty"; description = "The home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Whether to create the home directory."; };
      shell = mkOption { type = types.passwdEntry types.str; default = "/run/current-system/sw/bin/nologin"; description = "The login shell."; };
      packages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages in the user's profile."; };
      openssh.authorizedKeys.keys = mkOption { type = types.listOf types.singleLineStr; default = [ ]; description = "Keys allowed to log in."; };
    };
    config = lib.mkMerge [
      (mkIf config.isNormalUser {
        group = mkDefault "users";
        createHome = mkDefault true;
        home = mkDefault "/home/${config.name}";
        shell = mkDefault "/run/current-system/sw/bin/bash";
      })
      (mkIf config.isSystemUser {
        uid = mkDefault (ids.uids.${name} or null);
      })
    ];
  };

  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.passwdEntry types.str; default = name; description = "The group's name."; };
      gid = mkOption { type = types.nullOr types.int; default = ids.gids.${name} or null; description = "The group's id."; };
      members = mkOption { type = types.listOf (types.passwdEntry types.str); default = [ ]; description = "Members besides primary ones."; };
    };
  };

  idOrBlank = id: if id == null then "" else toString id;
  passwd = lib.concatStrings (lib.mapAttrsToList
    (_: u: "${u.name}:x:${idOrBlank u.uid}:${u.group}:${u.description}:${u.home}:${u.shell}\n")
    cfg.users);
  groupFile = lib.concatStrings (lib.mapAttrsToList
    (_: g: "${g.name}:x:${idOrBlank g.gid}:${lib.concatStringsSep "," (g.members ++ lib.attrNames (lib.filterAttrs (_: u: lib.elem g.name u.extraGroups) cfg.users))}\n")
    cfg.groups);
in
{
  options = {
    ids.uids = mkOption { type = types.attrsOf types.int; default = { }; description = "Static user ids."; };
    ids.gids = mkOption { type = types.attrsOf types.int; default = { }; description = "Static group ids."; };
    users.users = mkOption { type = types.attrsOf (types.submodule userOpts); default = { }; description = "The users."; };
    users.groups = mkOption { type = types.attrsOf (types.submodule groupOpts); default = { }; description = "The groups."; };
    users.mutableUsers = mkOption { type = types.bool; default = true; description = "Whether users may change outside the configuration."; };
  };

  config = {
    users.users.root = { uid = 0; group = "root"; home = "/root"; shell = "/run/current-system/sw/bin/sh"; description = "System administrator"; };
    users.users.nobody = { uid = 65534; isSystemUser = true; group = "nogroup"; description = "Unprivileged account"; };
    users.groups = { root.gid = 0; users.gid = 100; nogroup.gid = 65534; wheel.gid = 1; };

    environment.etc.passwd.text = passwd;
    environment.etc.group.text = groupFile;

    assertions = lib.concatLists (lib.mapAttrsToList
      (name: user: [
        {
          assertion = name == "root" || user.isSystemUser != user.isNormalUser;
          message = "Exactly one of users.users.${name}.isSystemUser and users.users.${name}.isNormalUser must be set.";
        }
        {
          assertion = user.group != "" && cfg.groups ? ${user.group};
          message = "users.users.${name}.group is \"${user.group}\", which is not a group in users.groups.";
        }
      ])
      cfg.users);
  };
}
