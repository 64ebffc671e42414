// Where nixpkgs' real lib is (the directory holding its default.nix): $HIVE_NIXPKGS_LIB (a checkout's
// root, holding lib/), else the workspace's shared/nixpkgs-lib next to this checkout or above it.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function locate(): string {
  const fromEnv = process.env["HIVE_NIXPKGS_LIB"];
  if (fromEnv !== undefined && fromEnv !== "") return join(resolve(fromEnv), "lib");
  for (let dir = resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."); ; dir = dirname(dir)) {
    const candidate = join(dir, "..", "shared", "nixpkgs-lib", "lib");
    if (existsSync(join(candidate, "default.nix"))) return resolve(candidate);
    if (dirname(dir) === dir) break;
  }
  return "/work/shared/nixpkgs-lib/lib";
}

/** nixpkgs' lib/ directory; tests that need it fail with this path in their message when it is missing. */
export const NIXPKGS_LIB = locate();
