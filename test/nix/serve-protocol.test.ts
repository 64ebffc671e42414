// hive's side of `nix-store --serve --write` against the real thing: a closure pushed into a
// separate store arrives whole (the receiving store's NAR hashes equal ours), and a second push
// finds everything there and sends nothing.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClosureReader } from "../../src/nix/closure.js";
import type { StorePathInfo } from "../../src/nix/export.js";
import { ReplyReader, pushClosure } from "../../src/nix/serve-protocol.js";
import { execaRunner } from "../../src/nix/runner.js";

const env = { ...process.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command flakes" };

let scratch: string;
let top: string;
let closures: ClosureReader;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "hive-serve-test-"));
  const dir = join(scratch, "tree");
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "hello"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
  const tree = execFileSync("nix-store", ["--add", dir], { env }).toString().trim();
  const expr = `derivation { name = "hive-serve-test"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo \${builtins.storePath ${tree}} > $out" ]; }`;
  top = execFileSync("nix-build", ["--no-out-link", "-E", expr], { env }).toString().trim();
  closures = new ClosureReader(execaRunner, env);
  await closures.closure(top);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Pushes into the store rooted at `root` through a local `nix-store --serve --write`. */
async function push(root: string, closure: readonly StorePathInfo[]): Promise<{ sent: number; copies: string[] }> {
  const child = spawn("nix-store", ["--store", `local?root=${root}`, "--serve", "--write"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const replies = new ReplyReader();
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => replies.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("close", (code) => replies.end(new Error(`nix-store --serve exited ${code}: ${stderr}`)));
  const send = (chunk: Buffer) => new Promise<void>((resolve, reject) => child.stdin.write(chunk, (error) => (error ? reject(error) : resolve())));
  const copies: string[] = [];
  const closed = new Promise((resolve) => child.on("close", resolve));
  try {
    const sent = await pushClosure({ send, replies }, closure, { substitute: true, onCopy: (missing, total) => copies.push(`${missing}/${total}`) });
    return { sent, copies };
  } finally {
    child.stdin.end(); // a push cut short ends the server's input mid-path, as hive does
    await closed;
  }
}

describe("pushClosure over nix-store --serve --write", { timeout: 60_000 }, () => {
  it("brings a closure into another store whole, then finds nothing to send", async () => {
    const root = join(scratch, "other-store");
    const closure = await closures.closure(top);
    expect(closure).toHaveLength(2);
    expect(await push(root, closure)).toEqual({ sent: 2, copies: ["2/2"] });
    // The receiving store registered the same NAR hashes and references as ours.
    const theirs = execFileSync("nix-store", ["--store", `local?root=${root}`, "--dump-db", ...closure.map((p) => p.path)], { env }).toString();
    const ours = execFileSync("nix-store", ["--dump-db", ...closure.map((p) => p.path)], { env }).toString();
    expect(theirs).toBe(ours);
    execFileSync("nix-store", ["--store", `local?root=${root}`, "--verify-path", top], { env });
    expect(await push(root, closure)).toEqual({ sent: 0, copies: [] });
  });

  it("leaves nothing registered of a path whose contents do not match its registration", async () => {
    const root = join(scratch, "third-store");
    const [dependency, referrer] = await closures.closure(top);
    await expect(push(root, [dependency!, { ...referrer!, narHash: "0".repeat(64) }])).rejects.toThrow(/no longer match/);
    const valid = execFileSync("nix-store", ["--store", `local?root=${root}`, "--check-validity", "--print-invalid", dependency!.path, referrer!.path], { env }).toString();
    expect(valid.trim().split("\n")).toEqual([referrer!.path]);
  });
});
