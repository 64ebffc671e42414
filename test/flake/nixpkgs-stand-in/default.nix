# The part of nixpkgs' package set that hive's flake.nix uses, as fakes that check how they are called.
#
# Derivations here are instantiated, never built. buildNpmPackage and importNpmLock take the arguments
# their nixpkgs versions take (read from nixpkgs' pkgs/build-support/node) and reject others, so a typo
# fails instead of being passed on to mkDerivation and ignored; importNpmLock also checks that every
# package in package-lock.json has what its fetcher needs (an http(s) `resolved` URL and an `integrity`
# hash). What this cannot show: that nixpkgs still has these names, that the downloads succeed, that
# the build passes. Those need the real nixpkgs and the network.
{ lib, system, systems }:
let
  fake = name: extra:
    derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; }
    // { meta.platforms = systems; } // extra;

  fail = what: message: throw "nixpkgs stand-in: ${what}: ${message}";

  checkNames = what: allowed: args:
    let unknown = lib.subtractLists allowed (builtins.attrNames args);
    in if unknown == [ ] then true else fail what "unknown argument(s) ${toString unknown}";

  checkStrings = what: name: value:
    if builtins.isList value && builtins.all builtins.isString value then true
    else fail what "${name} must be a list of strings";

  isDerivation = value: builtins.isAttrs value && (value.type or null) == "derivation";

  npmConfigHook = fake "npm-config-hook" { };

  # nixpkgs' importNpmLock: { npmRoot ? null, package ? ..., packageLock ? ..., pname ? ..., version ? ... }.
  importNpmLockFunction =
    { npmRoot ? null
    , package ? lib.importJSON (npmRoot + "/package.json")
    , packageLock ? lib.importJSON (npmRoot + "/package-lock.json")
    , pname ? package.name or "unknown"
    , version ? package.version or "0.0.0"
    }:
    let
      what = "importNpmLock";
      modules = lib.filterAttrs (path: _: path != "") (packageLock.packages or (fail what "package-lock.json has no `packages` (lockfileVersion 2 or later needed)"));
      # Its fetchModule: an entry without `resolved` is left unfetched and npm, offline in the build, fails on it.
      checkModule = path: module:
        if module.link or false then true
        else if !(module ? resolved) then fail what "${path} has no `resolved` URL in package-lock.json (is omit-lockfile-registry-resolved set? see .npmrc)"
        else if builtins.match "https?://.+" module.resolved == null then fail what "${path}: `resolved` is not an http(s) URL: ${module.resolved}"
        else if builtins.match "(sha1|sha256|sha512)-.+" (module.integrity or "") == null then fail what "${path} has no `integrity` hash for fetchurl"
        else true;
      checked = builtins.all lib.id (lib.mapAttrsToList checkModule modules);
    in
    assert npmRoot != null || fail what "npmRoot is needed (or package and packageLock)";
    assert checked;
    fake "${pname}-${version}-sources" { passthru.lockedPackages = builtins.length (builtins.attrNames modules); };

  buildNpmPackageArguments = [
    # build-npm-package/default.nix
    "name" "src" "srcs" "sourceRoot" "prePatch" "patches" "postPatch" "patchFlags" "nativeBuildInputs" "buildInputs"
    "npmDepsHash" "forceGitDeps" "forceEmptyCache" "makeCacheWritable" "npmBuildScript" "npmFlags" "npmInstallFlags"
    "npmRebuildFlags" "npmBuildFlags" "npmPackFlags" "npmPruneFlags" "npmWorkspace" "nodejs" "npmDeps"
    "npmConfigHook" "npmBuildHook" "npmInstallHook"
    # what stdenv.mkDerivation and the npm hooks read, of those a package like hive would set
    "pname" "version" "meta" "passthru" "env" "preBuild" "postBuild" "preInstall" "postInstall" "postFixup"
    "dontNpmBuild" "dontNpmInstall" "dontNpmPrune" "doCheck" "checkPhase"
  ];

  buildNpmPackage = args:
    let
      what = "buildNpmPackage";
      flags = [ "npmFlags" "npmInstallFlags" "npmRebuildFlags" "npmBuildFlags" "npmPackFlags" "npmPruneFlags" ];
    in
    assert checkNames what buildNpmPackageArguments args;
    assert args ? pname && args ? version || fail what "pname and version are needed";
    assert args ? src || fail what "src is needed";
    assert builtins.all (name: !(args ? ${name}) || checkStrings what name args.${name}) flags;
    # Without npmDeps, nixpkgs fetches with npmDepsHash: a hash to keep in step with the lock by hand.
    assert args ? npmDeps || fail what "npmDeps is not set, so nixpkgs would need npmDepsHash";
    assert !(args ? npmDepsHash) || fail what "npmDepsHash is set but npmDeps comes from importNpmLock";
    assert (args.npmDeps.name or "") == "${args.pname}-${args.version}-sources" || fail what "npmDeps is not importNpmLock's result for this package";
    # importNpmLock's dependencies are file: links into the store; only its own hook installs them.
    assert (args.npmConfigHook or null) == npmConfigHook || fail what "npmConfigHook must be importNpmLock.npmConfigHook with importNpmLock's npmDeps";
    assert !(args ? nodejs) || isDerivation args.nodejs || fail what "nodejs must be a package";
    assert builtins.all isDerivation (args.nativeBuildInputs or [ ]) || fail what "nativeBuildInputs must be packages";
    assert builtins.isString (args.meta.mainProgram or null) || fail what "meta.mainProgram is needed for `nix run`";
    fake "${args.pname}-${args.version}" {
      inherit (args) pname version;
      meta = args.meta // { platforms = systems; };
      passthru.arguments = builtins.attrNames args;
    };

  mkShell = { packages ? [ ], ... }:
    assert builtins.all isDerivation packages || fail "mkShell" "packages must be packages";
    fake "nix-shell" { };
in
{
  inherit lib buildNpmPackage mkShell;
  importNpmLock = { __functor = _: importNpmLockFunction; importNpmLock = importNpmLockFunction; inherit npmConfigHook; };
  stdenv.hostPlatform.system = system;
  nodejs_20 = fake "nodejs-20.20.2" { };
  makeWrapper = fake "make-shell-wrapper-hook" { };
  nix = fake "nix-2.31.2" { };
  git = fake "git-2.51.0" { };
  openssh = fake "openssh-10.0p2" { };
  just = fake "just-1.42.4" { };
}
