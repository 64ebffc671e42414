# nixpkgs' buildPythonPackage, reduced: a package built with the interpreter, its Python dependencies propagated.
{ lib, stdenv, python3 }:
{ pname, version, dependencies ? [ ], ... }@attrs:
stdenv.mkDerivation (lib.removeAttrs attrs [ "dependencies" ] // {
  pname = "python3-${pname}";
  inherit version;
  nativeBuildInputs = [ python3 ] ++ attrs.nativeBuildInputs or [ ];
  propagatedBuildInputs = dependencies;
  passthru = (attrs.passthru or { }) // { pythonModule = python3; };
})
