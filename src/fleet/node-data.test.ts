import { describe, expect, it } from "vitest";
import { validateHive } from "../config/validate.js";
import { buildNodeData } from "./node-data.js";

describe("buildNodeData", () => {
  it("takes connection facts from hive.ts only, never from ~/.ssh/config: the system is the same whoever deploys", () => {
    const exported = { nodes: { a: {}, b: { targetHost: "10.0.0.2", targetPort: 2222 } } };
    const plain = validateHive(exported, "/fleet/hive.ts", () => ({ identityFiles: [] }));
    const withConfig = validateHive(exported, "/fleet/hive.ts", () => ({ identityFiles: [], hostName: "a.internal", port: 2022, user: "ops" }));
    expect(withConfig.nodes[0]!.targetHost).toBe("a.internal");
    const data = (hive: typeof plain) => buildNodeData(hive, hive.nodes[0]!, new Map());
    expect(data(withConfig)).toEqual(data(plain));
    expect(data(plain).nodes).toEqual({
      a: { name: "a", tags: [], targetHost: "a", targetPort: null, targetUser: null, roles: [], vars: {} },
      b: { name: "b", tags: [], targetHost: "10.0.0.2", targetPort: 2222, targetUser: null, roles: [], vars: {} },
    });
  });

  it("lists the node's keys by where they land, never their content", () => {
    const hive = validateHive(
      { nodes: { a: { keys: { token: { text: "hunter2-secret", user: "app", destDir: "/var/lib/app/", permissions: "400" } } } } },
      "/fleet/hive.ts",
      () => ({ identityFiles: [] }),
    );
    const data = buildNodeData(hive, hive.nodes[0]!, new Map());
    expect(data.keys).toEqual({ token: { name: "token", destDir: "/var/lib/app", path: "/var/lib/app/token", user: "app", group: "root", permissions: "400", uploadAt: "pre-activation" } });
    expect(JSON.stringify(data)).not.toContain("hunter2");
  });
});
