// The generated package set of the real-fleet benchmark's nixpkgs: libraries, tools, Python packages and the
// applications that services run, one file each, called with callPackage and depending on earlier ones (a DAG).

/** A file of the generated tree, relative to its root. */
export interface GeneratedFile {
  path: string;
  text: string;
}

/** How many packages of each kind the set has. */
export interface PackageSetShape {
  libraries: number;
  tools: number;
  python: number;
  /** One per service or program module: what `mkPackageOption` points at. */
  apps: number;
}

/** Packages the hand-written core modules use by name (nixpkgs' own names), with the ones they depend on. */
export const CORE_PACKAGES: Record<string, string[]> = {
  zlib: [],
  openssl: ["zlib"],
  "util-linux": ["zlib"],
  coreutils: ["openssl"],
  bash: [],
  iptables: ["util-linux"],
  python3: ["zlib", "openssl", "bash"],
  systemd: ["util-linux", "openssl", "coreutils"],
};

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a shape always generates the same tree. */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (i: number) => String(i).padStart(4, "0");
export const libraryName = (i: number) => `lib-${pad(i)}`;
export const toolName = (i: number) => `tool-${pad(i)}`;
export const pythonName = (i: number) => `py-${pad(i)}`;
export const appName = (i: number) => `app-${pad(i)}`;

/** Split a total package count: apps as asked, the rest 65% libraries, 15% tools, 20% Python packages. */
export function shapePackageSet(total: number, apps: number): PackageSetShape {
  const rest = Math.max(total - apps - Object.keys(CORE_PACKAGES).length, 3);
  const tools = Math.max(1, Math.round(rest * 0.15));
  const python = Math.max(1, Math.round(rest * 0.2));
  return { libraries: Math.max(1, rest - tools - python), tools, python, apps };
}

/** `count` distinct indices below `below`, favouring small ones (a few libraries are used by almost everything). */
function pickDependencies(random: () => number, below: number, count: number): number[] {
  const picked = new Set<number>();
  for (let tries = 0; picked.size < Math.min(count, below) && tries < count * 8; tries++) {
    picked.add(Math.floor(below * random()));
  }
  return [...picked].sort((a, b) => a - b);
}

const LICENSES = ["mit", "asl20", "gpl3Plus", "bsd3", "lgpl21Plus", "mpl20", "isc"];
const PLATFORMS = ["lib.platforms.linux", "lib.platforms.unix", "lib.platforms.all"];

interface PackageSpec {
  name: string;
  kind: "library" | "tool" | "application" | "core";
  buildInputs: string[];
  nativeBuildInputs: string[];
  python: string[];
}

function renderPackage(spec: PackageSpec, index: number, random: () => number): string {
  const args = ["lib", "stdenv", ...spec.buildInputs, ...spec.nativeBuildInputs, ...(spec.python.length > 0 ? ["python3Packages"] : [])];
  // A few unfree ones, so the config's allowUnfree matters as in nixpkgs.
  const license = index % 29 === 5 ? "unfree" : LICENSES[index % LICENSES.length]!;
  const version = `${1 + (index % 4)}.${index % 13}.${Math.floor(random() * 10)}`;
  const flags = spec.buildInputs.slice(0, 2).map((dep) => `"--with-${dep}=\${${dep}}"`);
  return [
    `# Generated ${spec.kind} ${spec.name}, in the shape of a nixpkgs package.`,
    `{ ${args.join(", ")} }:`,
    "",
    "stdenv.mkDerivation (finalAttrs: {",
    `  pname = "${spec.name}";`,
    `  version = "${version}";`,
    "",
    `  buildInputs = [ ${spec.buildInputs.join(" ")} ];`,
    `  nativeBuildInputs = [ ${spec.nativeBuildInputs.join(" ")} ];`,
    ...(spec.python.length > 0 ? [`  propagatedBuildInputs = with python3Packages; [ ${spec.python.join(" ")} ];`] : []),
    `  configureFlags = [ "--enable-shared" "--prefix=\${placeholder "out"}" ${flags.join(" ")} ];`,
    `  doCheck = ${index % 3 === 0 ? "true" : "false"};`,
    "",
    `  passthru.updateScript = [ "update-source-version" finalAttrs.pname ];`,
    "",
    "  meta = {",
    `    description = "Generated ${spec.kind} number ${index}";`,
    `    homepage = "https://example.org/${spec.name}";`,
    `    license = lib.licenses.${license};`,
    `    platforms = ${PLATFORMS[index % PLATFORMS.length]};`,
    `    mainProgram = "${spec.name}";`,
    "  };",
    "})",
    "",
  ].join("\n");
}

function renderPythonPackage(name: string, index: number, dependencies: string[], libraries: string[]): string {
  return [
    `# Generated Python package ${name}, in the shape of nixpkgs' python-modules.`,
    `{ lib, buildPythonPackage${dependencies.map((d) => `, ${d}`).join("")}${libraries.length > 0 ? ", pkgs" : ""} }:`,
    "",
    "buildPythonPackage {",
    `  pname = "${name}";`,
    `  version = "0.${index % 17}.${index % 5}";`,
    `  dependencies = [ ${dependencies.join(" ")} ];`,
    `  buildInputs = [ ${libraries.map((l) => `pkgs.${l}`).join(" ")} ];`,
    "  meta = {",
    `    description = "Generated Python package number ${index}";`,
    "    license = lib.licenses.psfl;",
    "    platforms = lib.platforms.all;",
    "  };",
    "}",
    "",
  ].join("\n");
}

const byNamePath = (name: string) => `pkgs/by-name/${name.slice(0, 2)}/${name}/package.nix`;

/** The package set's files: every package, all-packages.nix and python-packages.nix (paths under nixpkgs/). */
export function renderPackageSet(shape: PackageSetShape, seed = 1): GeneratedFile[] {
  const random = makeRandom(seed);
  const files: GeneratedFile[] = [];
  const topLevel: string[] = [];
  const core = Object.keys(CORE_PACKAGES);
  const add = (spec: PackageSpec, index: number) => {
    files.push({ path: byNamePath(spec.name), text: renderPackage(spec, index, random) });
    topLevel.push(`  ${spec.name} = self.callPackage ../by-name/${spec.name.slice(0, 2)}/${spec.name}/package.nix { };`);
  };

  core.forEach((name, i) => add({ name, kind: "core", buildInputs: CORE_PACKAGES[name]!, nativeBuildInputs: [], python: [] }, i));
  for (let i = 0; i < shape.libraries; i++) {
    const deps = pickDependencies(random, i, Math.floor(random() * 6)).map(libraryName);
    add({ name: libraryName(i), kind: "library", buildInputs: i < 8 ? ["zlib"] : deps, nativeBuildInputs: [], python: [] }, i);
  }
  for (let i = 0; i < shape.tools; i++) {
    const deps = pickDependencies(random, shape.libraries, 1 + Math.floor(random() * 4)).map(libraryName);
    add({ name: toolName(i), kind: "tool", buildInputs: deps, nativeBuildInputs: [], python: [] }, i);
  }

  const pythonLines: string[] = [];
  for (let i = 0; i < shape.python; i++) {
    const name = pythonName(i);
    const deps = pickDependencies(random, i, Math.floor(random() * 4)).map(pythonName);
    const libs = random() < 0.3 ? pickDependencies(random, shape.libraries, 1).map(libraryName) : [];
    files.push({ path: `pkgs/development/python-modules/${name}/default.nix`, text: renderPythonPackage(name, i, deps, libs) });
    pythonLines.push(`  ${name} = self.callPackage ../development/python-modules/${name} { };`);
  }

  for (let i = 0; i < shape.apps; i++) {
    const libs = pickDependencies(random, shape.libraries, 2 + Math.floor(random() * 5)).map(libraryName);
    const tools = pickDependencies(random, shape.tools, Math.floor(random() * 3)).map(toolName);
    const python = random() < 0.25 ? pickDependencies(random, shape.python, 1 + Math.floor(random() * 2)).map(pythonName) : [];
    add({ name: appName(i), kind: "application", buildInputs: libs, nativeBuildInputs: tools, python }, i);
  }

  files.push({
    path: "pkgs/top-level/all-packages.nix",
    text: [
      "# Generated: every package of the set, as nixpkgs' all-packages.nix lists them (an overlay on the base set).",
      "{ lib }:",
      "self: super: {",
      ...topLevel,
      "",
      "  python3Packages = lib.makeScope self.newScope (import ./python-packages.nix);",
      "}",
      "",
    ].join("\n"),
  });
  files.push({
    path: "pkgs/top-level/python-packages.nix",
    text: [
      "# Generated: the Python package scope (lib.makeScope), as nixpkgs' python-packages.nix.",
      "self: {",
      "  buildPythonPackage = self.callPackage ../development/interpreters/python/mk-python-derivation.nix { };",
      ...pythonLines,
      "}",
      "",
    ].join("\n"),
  });
  return files;
}
