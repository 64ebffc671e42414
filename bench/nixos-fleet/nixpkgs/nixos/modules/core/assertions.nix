# NixOS' misc/assertions.nix: checks modules register, enforced when the toplevel is built.
{ lib, ... }:
{
  options = {
    assertions = lib.mkOption {
      type = lib.types.listOf lib.types.unspecified;
      internal = true;
      default = [ ];
      example = [{ assertion = false; message = "you can't enable this for that reason"; }];
      description = "Conditions that must hold; a failed one stops the build with its message.";
    };
    warnings = lib.mkOption {
      internal = true;
      default = [ ];
      type = lib.types.listOf lib.types.str;
      example = [ "The `foo' service is deprecated and will go away soon!" ];
      description = "Warnings printed when the system is evaluated.";
    };
  };
}
