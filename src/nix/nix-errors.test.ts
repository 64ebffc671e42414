import { describe, expect, it } from "vitest";
import { summarizeNixError, warningOf } from "./nix-errors.js";

describe("summarizeNixError", () => {
  it("says an undefined variable with its file and line, the store path shown as the file it came from", () => {
    const stderr = [
      "warning: Git tree '/srv/fleet' is dirty",
      "error: undefined variable 'nginxx'",
      "",
      "       at /nix/store/7kl4q6lp0a4yshqb3jfxlj9jarv059gd-source/shared/web.nix:12:5:",
      "",
      "           11|   services = {",
      "           12|     nginxx.enable = true;",
      "             |     ^",
      "(use '--show-trace' to show detailed location information)",
    ].join("\n");
    expect(summarizeNixError(stderr, "/srv/fleet")).toBe("undefined variable 'nginxx' at /srv/fleet/shared/web.nix:12:5");
  });

  it("says a NixOS assertion failure, not just `error:`", () => {
    const stderr = ["error:", "       Failed assertions:", "       - services.web.port must be set", "(use '--show-trace' to show detailed location information)"].join("\n");
    expect(summarizeNixError(stderr)).toBe("Failed assertions: - services.web.port must be set");
  });

  it("stops at the trace", () => {
    const stderr = ["error: The option `services.nginx.enabel' does not exist.", "", "       … while evaluating the attribute 'config'", "       at /x.nix:1:1:"].join("\n");
    expect(summarizeNixError(stderr)).toBe("The option `services.nginx.enabel' does not exist.");
  });
});

describe("warningOf", () => {
  it("reads Nix's and nixpkgs' warnings, coloured or not, and drops the dirty-tree notice", () => {
    expect(warningOf("trace: \x1b[1;35mevaluation warning:\x1b[0m the option `x' is deprecated")).toBe("the option `x' is deprecated");
    expect(warningOf("evaluation warning: y")).toBe("y");
    expect(warningOf("warning: Git tree '/srv' is dirty")).toBeNull();
    expect(warningOf("trace: hello")).toBeNull();
  });
});
