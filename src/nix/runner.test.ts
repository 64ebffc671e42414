import { describe, expect, it } from "vitest";
import { execaRunner } from "./runner.js";

describe("spawnStream", () => {
  it("keeps a small output that is read only after the process has exited", async () => {
    const child = execaRunner.spawnStream("sh", ["-c", "printf 'hello\\nworld\\n'"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const chunks: Buffer[] = [];
    for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("hello\nworld\n");
    expect((await child.done).exitCode).toBe(0);
  });

  it("streams a large output with backpressure, byte for byte", async () => {
    const child = execaRunner.spawnStream("sh", ["-c", "head -c 3000000 /dev/zero"]);
    let bytes = 0;
    for await (const chunk of child.stdout) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(3_000_000);
    expect(await child.done).toEqual({ exitCode: 0, stderr: "" });
  });
});
