import { describe, expect, it } from "vitest";
import { ClosureQueryError, closureOf, parseRegistrations } from "./closure.js";
import type { StorePathInfo } from "./export.js";

const HEX = "04caaca17124871b03b67d94fa0725be3353bc9ab23fbad528008934ca838097";

describe("parseRegistrations", () => {
  it("reads nix-store --dump-db, with the hash in each form Nix has printed", () => {
    const sri = `sha256-${Buffer.from(HEX, "hex").toString("base64")}`;
    const text = [
      "/nix/store/a-top", HEX, "904", "/nix/store/d-top.drv", "2", "/nix/store/b-lib", "/nix/store/a-top",
      "/nix/store/b-lib", `sha256:${HEX.toUpperCase()}`, "120", "", "0",
      "/nix/store/c-old", sri, "0", "", "0",
      "",
    ].join("\n");
    expect(parseRegistrations(text)).toEqual([
      { path: "/nix/store/a-top", narHash: HEX, narSize: 904, deriver: "/nix/store/d-top.drv", references: ["/nix/store/b-lib", "/nix/store/a-top"] },
      { path: "/nix/store/b-lib", narHash: HEX, narSize: 120, deriver: null, references: [] },
      { path: "/nix/store/c-old", narHash: HEX, narSize: 0, deriver: null, references: [] },
    ]);
  });

  it("refuses output it cannot read rather than guessing", () => {
    expect(() => parseRegistrations(`/nix/store/a-x\nnot-a-hash\n1\n\n0\n`)).toThrow(ClosureQueryError);
    expect(() => parseRegistrations(`/nix/store/a-x\n${HEX}\n1\n\n2\n/nix/store/b-y\n`)).toThrow(/ended early/);
  });
});

describe("closureOf", () => {
  const info = (path: string, references: string[]): StorePathInfo => ({ path, narHash: HEX, narSize: 1, deriver: null, references });
  const infos = new Map(
    [
      info("/nix/store/top", ["/nix/store/left", "/nix/store/right", "/nix/store/top"]),
      info("/nix/store/left", ["/nix/store/base"]),
      info("/nix/store/right", ["/nix/store/base"]),
      info("/nix/store/base", []),
      info("/nix/store/unrelated", []),
    ].map((i) => [i.path, i]),
  );

  it("lists each dependency once, before whatever refers to it, and nothing outside the closure", () => {
    expect(closureOf("/nix/store/top", infos).map((i) => i.path)).toEqual(["/nix/store/base", "/nix/store/left", "/nix/store/right", "/nix/store/top"]);
  });

  it("names a reference whose registration was not read", () => {
    expect(() => closureOf("/nix/store/x", new Map([["/nix/store/x", info("/nix/store/x", ["/nix/store/gone"])]]))).toThrow(/\/nix\/store\/gone/);
  });
});
