import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafeDirectoryError, ensurePrivateDir, hiveCacheDir } from "./private-dir.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-private-dir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("ensurePrivateDir", () => {
  it("creates missing directories 0700, and closes one of the user's that others could read", () => {
    const target = join(dir, "a", "b");
    expect(ensurePrivateDir(target)).toBe(target);
    expect((statSync(target).mode & 0o777).toString(8)).toBe("700");
    chmodSync(target, 0o755);
    ensurePrivateDir(target);
    expect((statSync(target).mode & 0o777).toString(8)).toBe("700");
  });

  it("refuses a directory others could have written to, an ancestor others can write without the sticky bit, and a symlink", () => {
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => ensurePrivateDir(open)).toThrow(new UnsafeDirectoryError(`${open} is writable by other users (mode 0777); another user could have planted files there`));
    expect(() => ensurePrivateDir(join(open, "x"))).toThrow(`${open} is writable by other users (mode 0777); refusing to keep hive's files under it`);
    chmodSync(open, 0o1777);
    expect(ensurePrivateDir(join(open, "x"))).toBe(join(open, "x"));
    symlinkSync(join(open, "x"), join(dir, "link"));
    expect(() => ensurePrivateDir(join(dir, "link"))).toThrow("is a symlink");
  });

  it("checks where a symlink on the way leads, not only the link", () => {
    const open = join(dir, "open");
    mkdirSync(join(open, "inner"), { recursive: true });
    chmodSync(open, 0o777);
    symlinkSync(join(open, "inner"), join(dir, "via"));
    // Only links root owns are followed at all; as root, the directories behind this one are checked too.
    expect(() => ensurePrivateDir(join(dir, "via", "cache"))).toThrow(UnsafeDirectoryError);
  });
});

describe("hiveCacheDir", () => {
  it("is $XDG_CACHE_HOME/hive when that is absolute, else ~/.cache/hive", () => {
    expect(hiveCacheDir({ XDG_CACHE_HOME: "/var/cache/me" })).toBe("/var/cache/me/hive");
    expect(hiveCacheDir({ XDG_CACHE_HOME: "relative" })).toMatch(/\/\.cache\/hive$/);
  });
});
