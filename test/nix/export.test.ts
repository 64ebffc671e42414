// hive's in-process export against the real `nix-store --export`: byte for byte, on trees that
// exercise every corner of the NAR format, and refused when the store's registration disagrees.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClosureReader } from "../../src/nix/closure.js";
import { ExportError, exportChunks, narChunks, type StorePathInfo } from "../../src/nix/export.js";
import { execaRunner } from "../../src/nix/runner.js";

const env = { ...process.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command flakes" };
const nixStore = (...args: string[]) => execFileSync("nix-store", args, { env, maxBuffer: 64 << 20 });

async function collect(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

let scratch: string;
let tree: string;
let withReferences: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "hive-export-test-"));
  const dir = join(scratch, "tree");
  mkdirSync(join(dir, "sub", "deeper"), { recursive: true });
  mkdirSync(join(dir, "empty-dir"));
  writeFileSync(join(dir, "empty"), "");
  writeFileSync(join(dir, "eight"), "12345678");
  writeFileSync(join(dir, "nine"), "123456789");
  writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(join(dir, "run.sh"), 0o755);
  // Larger than hive's 256 KiB chunks, and not a multiple of 8.
  writeFileSync(join(dir, "sub", "big"), Buffer.alloc(700_001, 7));
  writeFileSync(join(dir, "sub", "deeper", "x"), "x");
  // Byte order of names: upper case before lower, '-' and '.' before letters, UTF-8 after ASCII.
  for (const name of ["b", "B", "a-b", "a.b", "a b", "ä", "a"]) writeFileSync(join(dir, "sub", name), name);
  symlinkSync("deeper/x", join(dir, "sub", "relative-link"));
  symlinkSync("/nonexistent/target", join(dir, "dangling-link"));
  tree = nixStore("--add", dir).toString().trim();

  // A derivation's output with a reference and a deriver.
  const expr = `derivation { name = "hive-export-test"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ${"$"}{builtins.storePath ${tree}} > $out" ]; }`;
  withReferences = execFileSync("nix-build", ["--no-out-link", "-E", expr], { env }).toString().trim();
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("in-process export", { timeout: 60_000 }, () => {
  it("writes the same NAR as nix-store --dump", async () => {
    expect(await collect(narChunks(tree))).toEqual(nixStore("--dump", tree));
  });

  it("writes the same export stream as nix-store --export, references and deriver included", async () => {
    const reader = new ClosureReader(execaRunner, env);
    reader.want(tree);
    const paths = await reader.closure(withReferences);
    expect(paths.map((p) => p.path)).toEqual([tree, withReferences]);
    expect(paths[1]!.references).toEqual([tree]);
    expect(paths[1]!.deriver).toMatch(/\.drv$/);
    expect(await collect(exportChunks(paths))).toEqual(nixStore("--export", tree, withReferences));
  });

  it("fails with an ExportError naming the path when it cannot be read", async () => {
    const gone: StorePathInfo = { path: "/nix/store/00000000000000000000000000000000-gone", narHash: "0".repeat(64), narSize: 0, deriver: null, references: [] };
    await expect(collect(exportChunks([gone]))).rejects.toThrow(/could not read \/nix\/store\/0+-gone from the local store: ENOENT/);
  });

  it("withholds the trailer and fails when a NAR does not match its registration", async () => {
    const [info] = await new ClosureReader(execaRunner, env).closure(tree);
    const tampered: StorePathInfo = { ...info!, narHash: "0".repeat(64) };
    const parts: Buffer[] = [];
    await expect(async () => {
      for await (const chunk of exportChunks([tampered])) parts.push(chunk);
    }).rejects.toThrow(ExportError);
    const sent = Buffer.concat(parts);
    // The header and the whole NAR went out; the path itself (in its trailer) never did.
    expect(sent.length).toBe(8 + info!.narSize);
    expect(sent.includes(Buffer.from(tree))).toBe(false);
  });
});
