import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { findDependencyCycle } from "./generators.js";
import { validateHive } from "./validate.js";
import { recipientProblem } from "./vars-rules.js";

const FILE = "/fleet/hive.ts";
const AGE = "age1h5wa9cgaxzxd3eaxer8ufmm6sp9s0w67na55xwzmmxgvv5je2dxqgzvrz5";
const SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0mP3gq0iWcZ5g2FZ0pQn1fBqfZl4KXbZVdVhF1oN2c ops@laptop";

const fleet = {
  cinnabar: { targetHost: "10.0.0.1", tags: ["server"] },
  galena: { tags: ["server", "eu"] },
  stibnite: { tags: ["desk"] },
};

const validate = (exported: Record<string, unknown>) => validateHive({ nodes: fleet, ...exported }, FILE, () => ({ identityFiles: [] }));

function problems(exported: Record<string, unknown>): string[] {
  try {
    validate(exported);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

const gen = (extra: Record<string, unknown> = {}) => ({ command: ["true"], files: { out: {} }, ...extra });

describe("inventory", () => {
  it("gives each role its members by selector, and each node its roles in inventory order", () => {
    const hive = validate({ inventory: { zerotier: { controller: "cinnabar", peer: ["@server", "stibnite"] }, backup: { server: "galena" } } });
    expect(hive.inventory).toEqual({
      zerotier: {
        controller: { selector: "cinnabar", members: ["cinnabar"] },
        peer: { selector: "@server,stibnite", members: ["cinnabar", "galena", "stibnite"] },
      },
      backup: { server: { selector: "galena", members: ["galena"] } },
    });
    expect(Object.fromEntries(hive.nodes.map((n) => [n.name, n.roles]))).toEqual({
      cinnabar: ["zerotier.controller", "zerotier.peer"],
      galena: ["zerotier.peer", "backup.server"],
      stibnite: ["zerotier.peer"],
    });
  });

  it("names the service and role of an unknown node, an empty role, and a role defined by a role", () => {
    expect(
      problems({
        inventory: {
          zerotier: { controller: "cinabar", peer: "@server&@desk", relay: "%zerotier.controller" },
          backup: { server: "@sever" },
        },
      }),
    ).toEqual([
      'hive.ts: inventory.zerotier.controller: no node or tag matches "cinabar"; did you mean "cinnabar"?',
      'hive.ts: inventory.zerotier.peer: the role is empty: selector "@server&@desk" matches no node: every node is excluded by its terms',
      'hive.ts: inventory.zerotier.relay: "%zerotier.controller": a role\'s members are chosen by node names and @tags, not by other roles',
      'hive.ts: inventory.backup.server: no node or tag matches "@sever"; did you mean "@server"?',
    ]);
  });

  it("checks service and role names and selector shapes", () => {
    expect(problems({ inventory: { "zero.tier": { peer: "x" }, ok: { "a.b": "cinnabar", c: [], d: 3 } } })).toEqual([
      `hive.ts: inventory."zero.tier": invalid service name "zero.tier": use letters, digits, '_' and '-', not starting with '-'`,
      `hive.ts: inventory.ok."a.b": invalid role name "a.b": use letters, digits, '_' and '-', not starting with '-'`,
      "hive.ts: inventory.ok.c: a selector list must not be empty",
      "hive.ts: inventory.ok.d: expected a selector (string) or a list of them, got 3",
    ]);
  });
});

describe("vars", () => {
  it("resolves generators' nodes (roles included) and adds their secret files as keys", () => {
    const hive = validate({
      inventory: { db: { primary: "galena" } },
      vars: {
        recipients: [AGE, SSH],
        identity: "~/keys/me.age",
        generators: {
          "ssh-host": { command: ["ssh-keygen"], files: { ed25519: { permissions: "0400" }, "ed25519.pub": { secret: false } } },
          "db-password": { share: true, on: "%db.primary,stibnite", command: ["pwgen"], files: { password: { user: "postgres", destDir: "/var/lib/secrets" } } },
          ca: { share: true, on: [], command: ["x"], files: { key: { deploy: false } } },
        },
      },
    });
    expect(hive.vars.generators.map((g) => [g.name, g.nodes])).toEqual([
      ["ssh-host", ["cinnabar", "galena", "stibnite"]],
      ["db-password", ["galena", "stibnite"]],
      ["ca", []],
    ]);
    expect(hive.vars.dir).toBe("/fleet/vars");
    const galena = hive.nodes.find((n) => n.name === "galena")!;
    expect(Object.keys(galena.keys)).toEqual(["ssh-host/ed25519", "db-password/password"]);
    expect(galena.keys["ssh-host/ed25519"]).toEqual({
      destDir: "/run/keys/vars/ssh-host",
      name: "ed25519",
      user: "root",
      group: "root",
      permissions: "0400",
      uploadAt: "pre-activation",
      var: { generator: "ssh-host", file: "ed25519", path: "/fleet/vars/nodes/galena/ssh-host/ed25519.age", identity: expect.stringMatching(/\/keys\/me\.age$/) },
    });
    expect(galena.keys["db-password/password"]).toMatchObject({ destDir: "/var/lib/secrets", user: "postgres", var: { path: "/fleet/vars/shared/db-password/password.age" } });
    expect(Object.keys(hive.nodes.find((n) => n.name === "cinnabar")!.keys)).toEqual(["ssh-host/ed25519"]);
  });

  it("resolves a key's var source to the node's file, or the shared one", () => {
    const hive = validate({
      nodes: { ...fleet, cinnabar: { ...fleet.cinnabar, keys: { tls: { var: "cert/key", name: "tls.key" }, db: { var: "pw/password" } } } },
      vars: {
        recipients: [AGE],
        generators: { cert: gen({ files: { key: { deploy: false } } }), pw: gen({ share: true, files: { password: { deploy: false } } }) },
      },
    });
    const keys = hive.nodes.find((n) => n.name === "cinnabar")!.keys;
    expect(Object.keys(keys)).toEqual(["tls", "db"]);
    expect(keys["tls"]).toMatchObject({ name: "tls.key", var: { generator: "cert", file: "key", path: "/fleet/vars/nodes/cinnabar/cert/key.age" } });
    expect(keys["db"]!.var!.path).toBe("/fleet/vars/shared/pw/password.age");
  });

  it("names the cycle between generators", () => {
    expect(
      problems({ vars: { recipients: [AGE], generators: { a: gen({ dependencies: ["b"] }), b: gen({ dependencies: ["c"] }), c: gen({ dependencies: ["a"] }), d: gen() } } }),
    ).toEqual(["hive.ts: vars.generators: dependency cycle a -> b -> c -> a; no generator in it could run first. Remove one of these dependencies"]);
    expect(problems({ vars: { recipients: [AGE], generators: { self: gen({ dependencies: ["self"] }) } } })).toEqual([
      "hive.ts: vars.generators: dependency cycle self -> self; no generator in it could run first. Remove one of these dependencies",
    ]);
    expect(findDependencyCycle([{ name: "a", dependencies: ["b"] }, { name: "b", dependencies: [] }])).toBeNull();
  });

  it("rejects unknown dependencies, shared on per-node, and per-node on a generator missing some of its nodes", () => {
    expect(
      problems({
        vars: {
          recipients: [AGE],
          generators: {
            host: gen({ on: "@server" }),
            shared: gen({ share: true, dependencies: ["host"] }),
            wide: gen({ dependencies: ["host", "hots"] }),
          },
        },
      }),
    ).toEqual([
      'hive.ts: vars.generators.shared.dependencies[0]: a shared generator cannot read the per-node generator "host": whose node\'s files would it get? Share "host" too, or make "shared" per node',
      'hive.ts: vars.generators.wide.dependencies[0]: "host" is not generated for stibnite, which "wide" is for; widen its `on`',
      'hive.ts: vars.generators.wide.dependencies[1]: no generator "hots"; did you mean "host"?',
    ]);
  });

  it("requires recipients when there are secret files, and checks each one", () => {
    expect(problems({ vars: { generators: { pw: gen() } } })).toEqual([
      "hive.ts: vars.recipients: no recipients, so the secret files of pw could be encrypted for no one. Add each operator's age public key (`age-keygen -y ~/.config/hive/age.key`) or SSH ed25519 public key (`cat ~/.ssh/id_ed25519.pub`)",
    ]);
    expect(validate({ vars: { generators: { pub: gen({ files: { value: { secret: false } } }) } } }).vars.recipients).toEqual([]);
    expect(problems({ vars: { recipients: [AGE, "ssh-rsa AAAAB3Nza", "AGE-SECRET-KEY-1QQQ"], generators: {} } })).toEqual([
      "hive.ts: vars.recipients[1]: ssh-rsa keys are not supported as recipients; use an ssh-ed25519 key or an age key (age-keygen)",
      "hive.ts: vars.recipients[2]: this is an age identity (a private key)! Give its public key instead: age-keygen -y FILE; and treat the identity as leaked",
    ]);
    expect(recipientProblem(SSH)).toBeUndefined();
    expect(recipientProblem("hello")).toMatch(/^expected an age public key/);
  });

  it("rejects a generator's `on` that selects nothing, and keys whose var names nothing usable", () => {
    expect(
      problems({
        nodes: {
          ...fleet,
          stibnite: { tags: ["desk"], keys: { a: { var: "nope/x" }, b: { var: "host/ot" }, c: { var: "host/pub" }, d: { var: "srv/out" } } },
        },
        vars: {
          recipients: [AGE],
          generators: { host: gen({ files: { out: {}, pub: { secret: false } } }), srv: gen({ on: "@server" }), bad: gen({ on: "%web.front" }) },
        },
      }),
    ).toEqual([
      'hive.ts: vars.generators.bad.on: no node has the role "%web.front"',
      'hive.ts: nodes.stibnite.keys.a.var: no generator "nope"',
      'hive.ts: nodes.stibnite.keys.b.var: generator host has no file "ot"; did you mean "out"?',
      "hive.ts: nodes.stibnite.keys.c.var: host/pub is a public file; it reaches Nix as config.hive.vars.host.pub, not as a key",
      "hive.ts: nodes.stibnite.keys.d.var: generator srv is not for node stibnite; add it to the generator's `on`",
    ]);
  });

  it("checks file declarations: names, deploy settings on public files, at least one file", () => {
    expect(
      problems({
        vars: {
          recipients: [AGE],
          generators: {
            a: gen({ files: { "x.age": {}, y: { secret: false, user: "root", deploy: true } } }),
            b: gen({ files: {} }),
            c: { files: { z: {} } },
          },
        },
      }),
    ).toEqual([
      'hive.ts: vars.generators.a.files."x.age": a generated file\'s name must not end in .age (hive stores secrets as <file>.age)',
      "hive.ts: vars.generators.a.files.y: deploy, user apply to secret files only; a public file reaches Nix as config.hive.vars",
      "hive.ts: vars.generators.b.files: a generator needs at least one file",
      "hive.ts: vars.generators.c.command: expected a command as an array of strings, got nothing",
    ]);
  });
});
