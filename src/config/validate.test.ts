import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import type { SshConfigLookup } from "./ssh-config.js";
import { validateHive } from "./validate.js";

const noSshConfig: SshConfigLookup = () => ({ identityFiles: [] });
const FILE = "/fleet/hive.ts";

function validate(exported: unknown, sshConfig: SshConfigLookup = noSshConfig) {
  return validateHive(exported, FILE, sshConfig);
}

function problems(exported: unknown): string[] {
  try {
    validate(exported);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("validateHive: valid hives and defaults", () => {
  it("fills every default for a minimal node", () => {
    const hive = validate({ nodes: { web1: {} } });
    expect(hive.meta).toEqual({ allowApplyAll: true, parallel: 10, flake: "/fleet" });
    expect(hive.nodes).toEqual([
      {
        name: "web1",
        targetHost: "web1",
        targetPort: 22,
        targetUser: "root",
        sshAlias: "web1",
        tags: [],
        buildOnTarget: false,
        system: "nixosConfigurations.web1.config.system.build.toplevel",
        profile: "/nix/var/nix/profiles/system",
        ssh: { options: [], connectTimeout: 10 },
        privilegeEscalationCommand: ["sudo", "-H", "--"],
        healthChecks: {},
        keys: {},
        roles: [],
        declared: {},
        hiveName: "/fleet/hive.ts",
        services: {},
        rollback: true,
        magicRollback: true,
        confirmTimeout: 30,
        activationTimeout: 600,
      },
    ]);
    expect(hive.warnings).toEqual([]);
  });

  it("keeps hive.ts order", () => {
    const hive = validate({ nodes: { zeta: {}, alpha: {}, mid: {} } });
    expect(hive.nodes.map((n) => n.name)).toEqual(["zeta", "alpha", "mid"]);
  });

  it("merges defaults: node values win, tags union, checks, keys and ssh merge by name", () => {
    const hive = validate({
      defaults: {
        targetUser: "deploy",
        tags: ["all", "linux"],
        rollback: false,
        ssh: { knownHostsFile: "known", connectTimeout: 3 },
        healthChecks: { ssh: { tcp: { port: 22 } }, web: { http: { port: 80 } } },
        keys: { token: { text: "a" }, shared: { file: "/secrets/shared" } },
      },
      nodes: {
        web1: {
          targetUser: "ops",
          tags: ["server", "linux"],
          ssh: { identityFile: "/keys/id" },
          healthChecks: { web: { http: { port: 8080, path: "/health" } } },
          keys: { token: { command: ["pass", "show", "token"] } },
        },
        db1: { rollback: true },
      },
    });
    const [web1, db1] = hive.nodes;
    expect(web1!.targetUser).toBe("ops");
    expect(db1!.targetUser).toBe("deploy");
    expect(web1!.tags).toEqual(["all", "linux", "server"]);
    expect(db1!.tags).toEqual(["all", "linux"]);
    expect(web1!.rollback).toBe(false);
    expect(db1!.rollback).toBe(true);
    expect(web1!.ssh).toEqual({ identityFile: "/keys/id", knownHostsFile: "/fleet/known", connectTimeout: 3, options: [] });
    expect(Object.keys(web1!.healthChecks)).toEqual(["ssh", "web"]);
    expect(web1!.healthChecks["web"]!.http).toMatchObject({ port: 8080, path: "/health", from: "deployer" });
    expect(web1!.healthChecks["web"]).toMatchObject({ timeout: 5, interval: 1, deadline: 30 });
    expect(web1!.keys["token"]).toMatchObject({ command: ["pass", "show", "token"], name: "token", destDir: "/run/keys", permissions: "0600" });
    expect(web1!.keys["token"]!.text).toBeUndefined();
    expect(web1!.keys["shared"]).toMatchObject({ file: "/secrets/shared", user: "root", group: "root", uploadAt: "pre-activation" });
  });

  it("takes host, port and user from hive.ts, else ~/.ssh/config, else the node name, 22 and root", () => {
    const sshConfig: SshConfigLookup = (alias) =>
      alias === "web1" ? { hostName: "10.1.1.1", port: 2200, user: "admin", identityFiles: [] } : { identityFiles: [] };
    const hive = validate(
      { nodes: { web1: {}, web2: { targetHost: "web1", targetPort: 22, targetUser: "ops" }, web3: {} } },
      sshConfig,
    );
    expect(hive.nodes.map((n) => [n.targetHost, n.targetPort, n.targetUser])).toEqual([
      ["10.1.1.1", 2200, "admin"],
      ["web1", 22, "ops"],
      ["web3", 22, "root"],
    ]);
  });

  it("resolves a relative flake path and keeps a flake reference", () => {
    expect(validate({ meta: { flake: "./lab" }, nodes: { a: {} } }).meta.flake).toBe("/fleet/lab");
    expect(validate({ meta: { flake: "github:me/fleet" }, nodes: { a: {} } }).meta.flake).toBe("github:me/fleet");
    expect(validate({ meta: { flake: "/srv/fleet" }, nodes: { a: {} } }).meta.flake).toBe("/srv/fleet");
  });

  it("quotes node names that are not Nix identifiers in the system attribute", () => {
    const hive = validate({ nodes: { "web.example.com": {}, "1st": {} } });
    expect(hive.nodes.map((n) => n.system)).toEqual([
      'nixosConfigurations."web.example.com".config.system.build.toplevel',
      'nixosConfigurations."1st".config.system.build.toplevel',
    ]);
  });

  it("accepts rollout settings", () => {
    const hive = validate({ meta: { rollout: { batchSize: "25%", maxFailures: 1, order: ["canary"] } }, nodes: { a: { tags: ["canary"] } } });
    expect(hive.meta.rollout).toEqual({ batchSize: "25%", maxFailures: 1, order: ["canary"] });
  });

  it("warns about a text key in a hive.ts inside the flake, not about one outside", () => {
    const inside = validate({ nodes: { a: { keys: { k: { text: "s3cret" } } } } });
    expect(inside.warnings.join("\n")).toMatch(/inside the flake \/fleet.*world-readable Nix store/);
    expect(inside.warnings.join("\n")).not.toContain("s3cret");
    const outside = validate({ meta: { flake: "/elsewhere" }, nodes: { a: { keys: { k: { text: "s3cret" } } } } });
    expect(outside.warnings).toEqual([]);
  });

  it("warns about a key file inside the flake's tree", () => {
    const hive = validate({ meta: { flake: "/fleet" }, nodes: { a: { keys: { k: { file: "secrets/db.pw" }, j: { file: "/srv/secrets/x" } } } } });
    expect(hive.warnings.filter((w) => w.includes("lies inside the flake"))).toEqual([
      expect.stringMatching(/^hive\.ts: nodes\.a\.keys\.k\.file: \/fleet\/secrets\/db\.pw lies inside the flake \/fleet: Nix copies/),
    ]);
  });
});

describe("validateHive: errors name the file, the node and the dotted path", () => {
  it("rejects a non-object export", () => {
    expect(problems(42)[0]).toMatch(/^hive\.ts: the default export must be an object/);
  });

  it("requires nodes", () => {
    expect(problems({ meta: {} })).toEqual(["hive.ts: nodes: missing; define the fleet under `nodes`"]);
    expect(problems({ nodes: {} })).toEqual(["hive.ts: nodes: no nodes defined; add at least one under `nodes`"]);
  });

  it("reports a bad port with the value it got", () => {
    expect(problems({ nodes: { web1: { targetPort: "22x" } } })).toEqual([
      'hive.ts: nodes.web1.targetPort: expected an integer 1-65535, got "22x"',
    ]);
    expect(problems({ nodes: { web1: { targetPort: 70000 } } })).toEqual([
      "hive.ts: nodes.web1.targetPort: expected an integer 1-65535, got 70000",
    ]);
  });

  it("suggests the setting meant by an unknown key, at every level", () => {
    expect(problems({ nodes: { web1: { tag: ["x"] } } })).toEqual(['hive.ts: nodes.web1.tag: unknown setting; did you mean "tags"?']);
    expect(problems({ metta: {}, nodes: { a: {} } })).toEqual(['hive.ts: metta: unknown setting; did you mean "meta"?']);
    expect(problems({ meta: { paralel: 3 }, nodes: { a: {} } })).toEqual([
      'hive.ts: meta.paralel: unknown setting; did you mean "parallel"?',
    ]);
    expect(problems({ defaults: { ssh: { connectTimeot: 1 } }, nodes: { a: {} } })).toEqual([
      'hive.ts: defaults.ssh.connectTimeot: unknown setting; did you mean "connectTimeout"?',
    ]);
    expect(problems({ nodes: { a: { healthChecks: { web: { http: { prot: 80 } } } } } })).toEqual([
      'hive.ts: nodes.a.healthChecks.web.http.prot: unknown setting; did you mean "port"?',
    ]);
    expect(problems({ nodes: { a: { frobnicate: true } } })).toEqual(["hive.ts: nodes.a.frobnicate: unknown setting"]);
  });

  it("collects problems from every node at once", () => {
    expect(problems({ nodes: { a: { tags: "server" }, b: { buildOnTarget: "yes" }, "bad name": {} } })).toEqual([
      "hive.ts: nodes.a.tags: expected an array of tags, got \"server\"",
      'hive.ts: nodes.b.buildOnTarget: expected a boolean, got "yes"',
      `hive.ts: nodes."bad name": invalid node name "bad name": use letters, digits, '_', '.' and '-', not starting with '.' or '-'`,
    ]);
  });

  it("reports errors in defaults under defaults, once", () => {
    expect(problems({ defaults: { targetPort: 0 }, nodes: { a: {}, b: {} } })).toEqual([
      "hive.ts: defaults.targetPort: expected an integer 1-65535, got 0",
    ]);
  });

  it("requires exactly one kind per health check and one source per key", () => {
    expect(problems({ nodes: { a: { healthChecks: { x: {} }, keys: { k: { text: "a", file: "b" }, j: { destDir: "/run/keys" } } } } })).toEqual([
      "hive.ts: nodes.a.healthChecks.x: a health check needs exactly one of cmd, http or tcp",
      "hive.ts: nodes.a.keys.k: a key needs exactly one source: text, file, command or var, got text and file",
      "hive.ts: nodes.a.keys.j: a key needs exactly one source: text, file, command or var",
    ]);
  });

  it("validates key fields", () => {
    expect(
      problems({ nodes: { a: { keys: { k: { text: "x", destDir: "run/keys", name: "a/b", permissions: "rw", command: undefined } } } } }),
    ).toEqual([
      'hive.ts: nodes.a.keys.k.destDir: destDir must be an absolute path, got "run/keys"',
      "hive.ts: nodes.a.keys.k.name: a key name must not contain '/'",
      'hive.ts: nodes.a.keys.k.permissions: expected octal permissions such as "0600", got "rw"',
    ]);
  });

  it("rejects a rollout order naming an unknown tag, with a suggestion", () => {
    expect(problems({ meta: { rollout: { order: ["canry"] } }, nodes: { a: { tags: ["canary"] } } })).toEqual([
      'hive.ts: meta.rollout.order[0]: no node has tag "canry"; did you mean "canary"?',
    ]);
  });

  it("rejects two nodes with the same target", () => {
    expect(problems({ nodes: { a: { targetHost: "10.0.0.1" }, b: { targetHost: "10.0.0.1", targetPort: 22 } } })).toEqual([
      'hive.ts: nodes.b.targetHost: 10.0.0.1:22 is also the target of node "a"; two nodes would overwrite each other\'s system',
    ]);
  });

  it("rejects a bad batch size", () => {
    expect(problems({ meta: { rollout: { batchSize: "150%" } }, nodes: { a: {} } })).toEqual([
      'hive.ts: meta.rollout.batchSize: expected a count or a percentage such as "25%", got "150%"',
    ]);
  });
});

describe("validateHive: names JavaScript would drop", () => {
  it("refuses __proto__ as a node, key or check name, as an own key or as a literal's prototype", () => {
    expect(problems(JSON.parse('{"nodes": {"a": {}, "__proto__": {}}}'))).toEqual([
      'hive.ts: nodes.__proto__: "__proto__" cannot be a node name (JavaScript treats it as the object\'s prototype); rename it',
    ]);
    expect(problems({ nodes: { a: {}, __proto__: { targetHost: "x" } } })).toEqual([
      'hive.ts: nodes: `__proto__: { ... }` in an object literal sets the prototype instead of adding a node named "__proto__"; rename it',
    ]);
    expect(problems({ defaults: { keys: JSON.parse('{"__proto__": {"text": "x"}}') }, nodes: { a: { healthChecks: { __proto__: { cmd: "true" } } } } })).toEqual([
      'hive.ts: defaults.keys.__proto__: "__proto__" cannot be a key name (JavaScript treats it as the object\'s prototype); rename it',
      'hive.ts: nodes.a.healthChecks: `__proto__: { ... }` in an object literal sets the prototype instead of adding a health check named "__proto__"; rename it',
    ]);
  });

  it("says what the default export was when it is not an object", () => {
    expect(problems(null)).toEqual(["hive.ts: the default export must be an object with `nodes` (use `export default defineHive({ ... })`), got null"]);
    expect(problems(undefined)).toEqual(["hive.ts: the default export must be an object with `nodes` (use `export default defineHive({ ... })`), got undefined"]);
  });
});

describe("services", () => {
  it("merge by name from defaults, default their unit to <name>.service, and must name an existing check", () => {
    const hive = validate({
      defaults: { services: { sshd: { port: 22 } }, healthChecks: { web: { http: { port: 80 } } } },
      nodes: { web1: { services: { nginx: { port: 80, check: "web" }, db: { unit: "postgresql.service" } } } },
    });
    expect(hive.nodes[0]!.services).toEqual({
      sshd: { port: 22, unit: "sshd.service" },
      nginx: { port: 80, check: "web", unit: "nginx.service" },
      db: { unit: "postgresql.service" },
    });
    expect(() => validate({ nodes: { web1: { services: { nginx: { check: "wbe" } }, healthChecks: { web: { tcp: { port: 80 } } } } } })).toThrow(
      /nodes\.web1\.services\.nginx\.check: node web1 has no health check "wbe".*did you mean "web"/s,
    );
    expect(() => validate({ nodes: { web1: { services: { nginx: { unit: "nginx; rm -rf /" } } } } })).toThrow(/invalid unit "nginx; rm -rf \/": expected a systemd unit name/);
  });
});
