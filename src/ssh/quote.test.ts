import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quoteCommand, quoteShellArg } from "./quote.js";

/** Run `printf '%s\0' ARGS` through /bin/sh -c and split on NUL: the words sh actually passed. */
function wordsAfterSh(args: string[]): string[] {
  const result = spawnSync("/bin/sh", ["-c", `printf '%s\\0' ${quoteCommand(args)}`], { encoding: "buffer" });
  expect(result.status).toBe(0);
  const out = result.stdout.toString("utf8");
  return out.split("\0").slice(0, -1);
}

describe("quoteShellArg", () => {
  it("leaves plain words bare and single-quotes the rest", () => {
    expect(quoteShellArg("nixos-rebuild")).toBe("nixos-rebuild");
    expect(quoteShellArg("/nix/store/abc-system")).toBe("/nix/store/abc-system");
    expect(quoteShellArg("")).toBe("''");
    expect(quoteShellArg("a b")).toBe("'a b'");
    expect(quoteShellArg("it's")).toBe(`'it'\\''s'`);
    expect(quoteShellArg("FOO=bar")).toBe("'FOO=bar'");
    expect(quoteShellArg("~")).toBe("'~'");
  });

  const tricky = [
    "it's",
    `say "hi"`,
    "$(id)",
    "`id`",
    "line1\nline2",
    "*",
    "",
    "-rf",
    "--flag=value",
    "a\\b",
    "$HOME ${PATH}",
    "; rm -rf / #",
    "tab\there",
    "'",
    "''",
    "ünïcødé ✓",
    "FOO=bar",
    "~root",
    "!event",
    "a|b&c>d<e",
  ];

  it.each(tricky.map((s) => [JSON.stringify(s), s]))("%s arrives byte for byte through sh -c", (_label, arg) => {
    expect(wordsAfterSh([arg])).toEqual([arg]);
  });

  it("keeps a whole argv apart, empty arguments included", () => {
    expect(wordsAfterSh(tricky)).toEqual(tricky);
  });

  it("makes a leading assignment a command word, not an assignment", () => {
    const result = spawnSync("/bin/sh", ["-c", quoteCommand(["FOO=bar", "true"])], { encoding: "utf8" });
    expect(result.status).toBe(127);
  });
});
