# nixosModules.hive: `config.hive`, the fleet as hive.ts describes it, for the node being evaluated.
#
# hive adds this module to every node's configuration (through extendModules) and sets `hive.data`
# to what it computed from hive.ts and vars/. The other options are read-only views of that data.
# A configuration hive cannot extend imports it by hand and sets `hive.data` itself, e.g. from
# `hive nodes --on NODE --nix-data` (see docs/inventory-and-vars.md).
{ lib, config, ... }:
let
  inherit (lib) mkOption types;

  readOnly = type: description: mkOption { inherit type description; readOnly = true; };

  data = config.hive.data;

  # A public file that has not been generated fails only where a module reads it.
  withMissingVars = node: vars:
    builtins.mapAttrs
      (generator: files: builtins.mapAttrs
        (file: value:
          if value == null
          then throw "hive: ${generator}/${file} of node ${node} has not been generated yet; run `hive vars generate --on ${node}`"
          else value)
        files)
      vars;

  nodeOptions = {
    name = readOnly types.str "The node's name in hive.ts.";
    tags = readOnly (types.listOf types.str) "The node's tags in hive.ts.";
    targetHost = readOnly types.str "The host hive.ts deploys the node to (its `targetHost`, else the node's name; never ~/.ssh/config, which differs between operators).";
    targetPort = readOnly (types.nullOr types.port) "The SSH port hive.ts gives, or null.";
    targetUser = readOnly (types.nullOr types.str) "The SSH user hive.ts gives, or null.";
    roles = readOnly (types.listOf types.str) ''The node's inventory roles, as "service.role".'';
    vars = readOnly (types.attrsOf (types.lazyAttrsOf types.str)) "Public files of the node's generators: vars.<generator>.<file> is the file's content.";
  };

  nodeValue = node: {
    inherit (node) name tags targetHost targetPort targetUser roles;
    vars = withMissingVars node.name node.vars;
  };

  keyType = types.submodule {
    options = {
      name = readOnly types.str "File name on the node.";
      destDir = readOnly types.str "Directory on the node.";
      path = readOnly types.str "destDir/name: where services read the key.";
      user = readOnly types.str "Owner.";
      group = readOnly types.str "Group.";
      permissions = readOnly types.str "Octal mode.";
      uploadAt = readOnly (types.enum [ "pre-activation" "post-activation" ]) "When hive apply uploads it.";
    };
  };
in
{
  # Imported by hive and by hand in one configuration, it is still declared once. hive inlines this
  # file's text into pure evaluations, so it names itself with a string, not a path.
  key = "nix-hive/nixosModules.hive";
  _file = "nix-hive/nix/hive-module.nix";

  options.hive = nodeOptions // {
    data = mkOption {
      type = types.attrs;
      internal = true;
      default = throw "hive: config.hive is empty: this configuration was not evaluated by hive. hive sets hive.data when it evaluates a node; to build it without hive, set hive.data from `hive nodes --on NODE --nix-data`";
      defaultText = "set by hive";
      description = "What hive computed for this node from hive.ts and vars/ (hive nodes --nix-data); the other hive.* options read it.";
    };
    nodes = readOnly (types.attrsOf (types.submodule { options = nodeOptions; })) "Every node in hive.ts, by name.";
    keys = readOnly (types.attrsOf keyType) ''The node's keys (generated secrets as "generator/file"): where each lands on the node, never its content.'';
    inventory = readOnly (types.attrsOf (types.attrsOf (types.listOf types.str))) "inventory.<service>.<role>: the names of the nodes with that role.";
  };

  config.hive = nodeValue data // {
    nodes = builtins.mapAttrs (_: nodeValue) data.nodes;
    inherit (data) keys inventory;
  };
}
