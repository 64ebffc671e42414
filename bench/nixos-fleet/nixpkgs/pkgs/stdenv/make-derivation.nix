# nixpkgs' make-derivation.nix, reduced: attributes or a function of the final attributes (overrideAttrs
# extends it), meta checked against the config and platform, and a /bin/sh build that writes one file.
{ lib, config, stdenv }:
let
  allowUnfree = config.allowUnfree or false;
  allowBroken = config.allowBroken or false;

  checkMeta = attrs:
    let
      meta = attrs.meta or { };
      licenses = lib.toList (meta.license or [ ]);
    in
    if !allowUnfree && lib.any (l: !(l.free or true)) licenses then "has an unfree license (${lib.concatMapStringsSep ", " (l: l.shortName or "?") licenses})"
    else if !allowBroken && (meta.broken or false) then "is marked as broken"
    else if !lib.meta.availableOn stdenv.hostPlatform attrs then "is not available on ${stdenv.hostPlatform.system}"
    else null;

  dropAttrs = [ "meta" "passthru" "finalPackage" "overrideAttrs" "pos" "__structuredAttrs" ];

  mkDerivationSimple = overrideAttrs: attrs:
    let
      pname = attrs.pname or null;
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      problem = checkMeta attrs;
      derivationArg = lib.removeAttrs attrs dropAttrs // {
        inherit name;
        inherit (stdenv) system;
        builder = stdenv.shell;
        args = [ "-e" ./default-builder.sh ];
        stdenv = stdenv.setup;
        PATH = "/usr/bin:/bin";
        binName = if pname != null then pname else name;
        buildInputs = map (p: p.dev or p) (attrs.buildInputs or [ ]);
        nativeBuildInputs = attrs.nativeBuildInputs or [ ];
        propagatedBuildInputs = attrs.propagatedBuildInputs or [ ];
      };
      drv = derivation derivationArg;
      meta = (attrs.meta or { }) // {
        inherit name;
        available = problem == null;
        outputsToInstall = [ "out" ];
      };
      valid = problem == null || throw "Package ‘${name}’ in ${stdenv.system} ${problem}, refusing to evaluate.";
    in
    lib.extendDerivation valid ((attrs.passthru or { }) // { inherit meta overrideAttrs; }) drv;

  makeDerivationExtensible = rattrs:
    let
      args = rattrs (args // { inherit finalPackage overrideAttrs; });
      finalPackage = mkDerivationSimple overrideAttrs args;
      overrideAttrs = f0:
        let f = self: super: if builtins.isFunction (f0 super) then f0 self super else f0 super;
        in makeDerivationExtensible (self: let super = rattrs self; in super // f self super);
    in
    finalPackage;
in
fnOrAttrs: if builtins.isFunction fnOrAttrs then makeDerivationExtensible fnOrAttrs else makeDerivationExtensible (_: fnOrAttrs)
