// The zod schema of hive.ts: the one source of truth for its types, defaults, validation and docs.
import * as z from "zod";

// Uniform wording for type errors that no field words itself: `expected a boolean, got "yes"`.
z.config({
  customError: (iss) =>
    iss.code === "invalid_type" ? `expected ${withArticle(String(iss.expected))}, got ${describeValue(iss.input)}` : undefined,
});

function withArticle(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const NAME_RULE = "letters, digits, '_', '.' and '-', not starting with '.' or '-'";

const name = (what: string) =>
  z.string({ error: (iss) => `expected a ${what} (string), got ${describeValue(iss.input)}` }).regex(NAME_PATTERN, {
    error: (iss) => `invalid ${what} ${JSON.stringify(iss.input)}: use ${NAME_RULE}`,
  });

export const nodeNameSchema = name("node name");
export const tagSchema = name("tag");

const port = z
  .int({ error: (iss) => `expected an integer 1-65535, got ${describeValue(iss.input)}` })
  .min(1)
  .max(65535);

const seconds = z.number({ error: (iss) => `expected a number of seconds, got ${describeValue(iss.input)}` }).positive({
  error: (iss) => `expected a positive number of seconds, got ${describeValue(iss.input)}`,
});

const nonEmpty = (what: string) =>
  z.string({ error: (iss) => `expected ${what} (string), got ${describeValue(iss.input)}` }).min(1, `${what} must not be empty`);

const absolutePath = (what: string) =>
  nonEmpty(what).refine((p) => p.startsWith("/"), { error: (iss) => `${what} must be an absolute path, got ${describeValue(iss.input)}` });

const argv = (what: string) =>
  z.array(nonEmpty("an argument"), { error: (iss) => `expected ${what} as an array of strings, got ${describeValue(iss.input)}` }).min(1, `${what} must not be empty`);

export const sshSchema = z
  .strictObject({
    identityFile: nonEmpty("a path").optional().describe("Private key to authenticate with (in addition to ssh-agent)."),
    knownHostsFile: nonEmpty("a path")
      .optional()
      .describe("known_hosts file to verify the node's host key against; default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts."),
    options: z
      .array(z.string())
      .default([])
      .describe(
        'Extra arguments for OpenSSH where hive calls it, e.g. ["-o", "Compression=yes"]. hive now speaks SSH itself for every step (commands, closures, keys), so no step uses them yet.',
      ),
    connectTimeout: seconds.default(10).describe("Seconds to wait for the SSH connection."),
  })
  .describe("How hive connects to the node.");

export const httpCheckSchema = z.strictObject({
  port: port.default(80).describe("TCP port."),
  path: z.string().default("/").describe("Request path."),
  host: nonEmpty("a host").optional().describe("Host to request; default the node's targetHost."),
  scheme: z.enum(["http", "https"]).default("http").describe("URL scheme."),
  status: z.int().min(100).max(599).optional().describe("Expected status code; default any 2xx."),
  contains: z.string().optional().describe("Text the response body must contain."),
  from: z.enum(["deployer", "node"]).default("deployer").describe('Where the request is made: the deployer, or the node itself.'),
});

export const healthCheckSchema = z
  .strictObject({
    description: z.string().optional().describe("What the check proves, shown in reports."),
    cmd: nonEmpty("a shell command").optional().describe("Shell command run on the node over SSH; exit 0 passes."),
    http: httpCheckSchema.optional().describe("HTTP GET; passes on 2xx, or the given status."),
    tcp: z
      .strictObject({ port: port.describe("TCP port."), host: nonEmpty("a host").optional().describe("Host to connect to; default the node's targetHost.") })
      .optional()
      .describe("Passes when the port accepts a TCP connection."),
    timeout: seconds.default(5).describe("Seconds per attempt."),
    interval: seconds.default(1).describe("Seconds between attempts."),
    deadline: seconds.default(30).describe("Seconds for the whole check, all attempts included."),
  })
  .superRefine((check, ctx) => {
    const kinds = (["cmd", "http", "tcp"] as const).filter((k) => check[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          kinds.length === 0
            ? "a health check needs exactly one of cmd, http or tcp"
            : `a health check needs exactly one of cmd, http or tcp, got ${kinds.join(" and ")}`,
      });
    }
  });

const octalMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, { error: (iss) => `expected octal permissions such as "0600", got ${describeValue(iss.input)}` });

/** Where a key goes on the node and who owns it; keys and secret generator files share these. */
const keyPlacementFields = {
  destDir: absolutePath("destDir")
    .refine((p) => !p.split("/").some((part) => part === ".." || part === "."), {
      error: (iss) => `destDir must not contain '.' or '..' (hive checks every directory on the way as written), got ${describeValue(iss.input)}`,
    })
    .default("/run/keys")
    .describe("Directory on the node; every directory on the way must belong to root or the key's user and be writable by no one else."),
  name: z
    .string()
    .regex(/^[^/]+$/, "a key name must not contain '/'")
    .refine((n) => n !== "." && n !== "..", "a key name must not be '.' or '..'")
    .optional()
    .describe("File name on the node; default the key's name in hive.ts."),
  user: nonEmpty("a user").default("root").describe("Owner on the node."),
  group: nonEmpty("a group").default("root").describe("Group on the node."),
  permissions: octalMode.default("0600").describe("Octal file mode."),
  uploadAt: z.enum(["pre-activation", "post-activation"]).default("pre-activation").describe("When apply uploads it."),
};

/** `generator/file`: a secret file of a generator (see `vars`). */
export const VAR_REFERENCE = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)\/([A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

const KEY_SOURCES = ["text", "file", "command", "var"] as const;

export const keySchema = z
  .strictObject({
    text: z.string().optional().describe("The secret itself. Prefer file or command: hive.ts inside a flake is copied into the Nix store."),
    file: nonEmpty("a path").optional().describe("File on the deployer holding the secret."),
    command: argv("a command").optional().describe("Command (argv) run on the deployer; its stdout is the secret."),
    var: z
      .string()
      .regex(VAR_REFERENCE, { error: (iss) => `expected "generator/file", got ${describeValue(iss.input)}` })
      .optional()
      .describe('A secret file of a generator, "generator/file", decrypted in memory from vars/ (see `vars`).'),
    ...keyPlacementFields,
  })
  .superRefine((key, ctx) => {
    const sources = KEY_SOURCES.filter((k) => key[k] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          sources.length === 0
            ? "a key needs exactly one source: text, file, command or var"
            : `a key needs exactly one source: text, file, command or var, got ${sources.join(" and ")}`,
      });
    }
  });

export const serviceSchema = z.strictObject({
  description: z.string().optional().describe("What the service is, shown in reports."),
  unit: z
    .string({ error: (iss) => `expected a systemd unit name (string), got ${describeValue(iss.input)}` })
    .regex(/^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|mount|path)$/, {
      error: (iss) => `invalid unit ${describeValue(iss.input)}: expected a systemd unit name such as "nginx.service"`,
    })
    .optional()
    .describe("systemd unit whose state `hive status` shows; default `<service name>.service`."),
  port: port.optional().describe("TCP port the service listens on; `hive status` checks, on the node, that something listens there."),
  check: name("check name").optional().describe("Name of one of the node's `healthChecks` that proves the service works; its result is the service's health."),
});

/** Settings of one node; `defaults` takes the same settings. */
export const nodeSchema = z.strictObject({
  targetHost: nonEmpty("a host")
    .optional()
    .describe("Host name or address to deploy to; default the HostName from ~/.ssh/config, else the node name."),
  targetPort: port.optional().describe("SSH port; default from ~/.ssh/config, else 22."),
  targetUser: nonEmpty("a user name").optional().describe("SSH user; default from ~/.ssh/config, else root."),
  tags: z
    .array(tagSchema, { error: (iss) => `expected an array of tags, got ${describeValue(iss.input)}` })
    .default([])
    .describe("Tags for selecting nodes with --on @tag. In defaults, they add to each node's tags."),
  buildOnTarget: z.boolean().default(false).describe("Build the system on the node instead of on the deployer."),
  system: nonEmpty("an attribute path")
    .optional()
    .describe("Attribute of the node's system in the flake; default nixosConfigurations.<name>.config.system.build.toplevel."),
  profile: absolutePath("profile").default("/nix/var/nix/profiles/system").describe("Nix profile that holds the node's system generations."),
  ssh: sshSchema.default({ options: [], connectTimeout: 10 }),
  privilegeEscalationCommand: argv("privilegeEscalationCommand")
    .default(["sudo", "-H", "--"])
    .describe("Prefix for commands that need root when targetUser is not root."),
  healthChecks: z
    .record(name("check name"), healthCheckSchema)
    .default({})
    .describe("Checks run after activation, by name; defaults and node merge by name."),
  keys: z.record(name("key name"), keySchema).default({}).describe("Secrets uploaded to the node, by name; defaults and node merge by name."),
  services: z
    .record(name("service name"), serviceSchema)
    .default({})
    .describe("Services `hive status` and metrics report per node (unit state, port, health), by name; defaults and node merge by name."),
  rollback: z.boolean().default(true).describe("Roll the node back when activation or a health check fails."),
  magicRollback: z.boolean().default(true).describe("The node reverts by itself unless hive confirms it can still reach it."),
  confirmTimeout: seconds
    .default(30)
    .describe("Seconds the node waits for hive's confirmation after activation; hive confirms only once health checks passed, so the node waits this long plus the longest check's deadline."),
  activationTimeout: seconds
    .default(600)
    .describe("Seconds hive follows an activation (or a return to the previous system) before it stops waiting; the node finishes, or reverts, by itself."),
});

const batchSize = z.union([
  z.int().min(1),
  z.string().regex(/^(100|[1-9][0-9]?)%$/, { error: (iss) => `expected a count or a percentage such as "25%", got ${describeValue(iss.input)}` }),
]);

export const rolloutSchema = z.strictObject({
  batchSize: batchSize.optional().describe('Nodes per batch: a count or a percentage of the selection, e.g. "25%".'),
  maxFailures: z.int().min(0).optional().describe("Failed nodes tolerated before no new batch starts."),
  order: z.array(tagSchema).default([]).describe("Tags deployed first, in this order (canaries first)."),
});

export const metaSchema = z.strictObject({
  name: z.string().optional().describe("Name of the fleet."),
  description: z.string().optional().describe("What the fleet is, for people reading hive.ts and `hive nodes`."),
  flake: nonEmpty("a path or flake reference")
    .optional()
    .describe("Where node systems come from: a path (relative to hive.ts) or a flake reference; default the directory of hive.ts."),
  allowApplyAll: z.boolean().default(true).describe("Allow `hive apply` without --on."),
  parallel: z.int().min(1).default(10).describe("Nodes pushed and activated at once."),
  machinesFile: nonEmpty("a path").optional().describe("Nix machines file with remote builders."),
  rollout: rolloutSchema.optional().describe("Rolling deploys in batches."),
});

/** Inventory service and role names: no '.', which separates them in `%service.role`. */
const serviceName = (what: string) =>
  z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/, {
    error: (iss) => `invalid ${what} ${JSON.stringify(iss.input)}: use letters, digits, '_' and '-', not starting with '-'`,
  });

/** A --on selector, or several (OR'ed); an empty list only where `emptyOk`. */
const selectorList = (emptyOk: boolean) => {
  const expected = (iss: { input: unknown }) => `expected a selector (string) or a list of them, got ${describeValue(iss.input)}`;
  const list = z.array(nonEmpty("a selector"), { error: expected });
  return z.union([z.string({ error: expected }).min(1, "a selector must not be empty"), emptyOk ? list : list.min(1, "a selector list must not be empty")]);
};

export const inventorySchema = z
  .record(serviceName("service name"), z.record(serviceName("role name"), selectorList(false)))
  .describe('Services and their roles: role name to the nodes that have it, as a selector ("@server,stibnite").');

export const varFileSchema = z
  .strictObject({
    secret: z.boolean().default(true).describe("Stored encrypted for `vars.recipients` and uploaded as a key; false: stored in plain text and given to Nix as `config.hive.vars.<generator>.<file>`."),
    deploy: z.boolean().optional().describe("Upload this secret to the generator's nodes as a key; default true. False for a secret only other generators read."),
    destDir: absolutePath("destDir").optional().describe("Directory on the node; default `/run/keys/vars/<generator>`."),
    name: keyPlacementFields.name.describe("File name on the node; default the file's name."),
    user: nonEmpty("a user").optional().describe('Owner on the node; default "root".'),
    group: nonEmpty("a group").optional().describe('Group on the node; default "root".'),
    permissions: octalMode.optional().describe('Octal file mode; default "0600".'),
    uploadAt: z.enum(["pre-activation", "post-activation"]).optional().describe('When apply uploads it; default "pre-activation".'),
  })
  .superRefine((file, ctx) => {
    if (file.secret) return;
    const placement = (["deploy", "destDir", "name", "user", "group", "permissions", "uploadAt"] as const).filter((k) => file[k] !== undefined);
    if (placement.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `${placement.join(", ")} ${placement.length === 1 ? "applies" : "apply"} to secret files only; a public file reaches Nix as config.hive.vars`,
      });
    }
  });

export const generatorSchema = z.strictObject({
  description: z.string().optional().describe("What the generator makes, for `hive vars list`."),
  on: selectorList(true).optional().describe("Its nodes, as a --on selector (names, @tags, %roles); default every node; [] for none (a shared generator only other generators read)."),
  share: z.boolean().default(false).describe("One value shared by all its nodes (a database password) instead of one per node (an SSH host key)."),
  command: argv("a command").describe("Command (argv) run on the deployer in a private temporary directory; it writes each file to `$out/<file>` and reads its dependencies' files from `$in/<generator>/<file>`."),
  files: z
    .record(
      name("file name").refine((n) => !n.endsWith(".age"), "a generated file's name must not end in .age (hive stores secrets as <file>.age)"),
      varFileSchema,
    )
    .refine((files) => Object.keys(files).length > 0, "a generator needs at least one file")
    .describe("The files the command writes, by name."),
  dependencies: z.array(name("generator name")).default([]).describe("Generators whose files this one reads."),
});

export const varsSchema = z.strictObject({
  recipients: z
    .array(nonEmpty("a recipient"))
    .default([])
    .describe("Who can decrypt secret files: operators' age public keys (`age1...`) and SSH ed25519 public keys (`ssh-ed25519 AAAA...`)."),
  identity: nonEmpty("a path")
    .optional()
    .describe("Identity file hive decrypts with (age or OpenSSH ed25519; relative to hive.ts, `~/` is home); $HIVE_AGE_IDENTITY wins over it. Default ~/.config/hive/age.key, else ~/.ssh/id_ed25519."),
  generators: z.record(name("generator name"), generatorSchema).default({}).describe("Generators of secret and public files, by name."),
});

/** The whole hive.ts default export, as users write it (see `HiveInput`). */
export const hiveSchema = z.strictObject({
  meta: metaSchema.default({ allowApplyAll: true, parallel: 10 }),
  defaults: nodeSchema.partial().optional().describe("Settings merged into every node; node values win."),
  nodes: z.record(nodeNameSchema, nodeSchema).describe("The fleet: node name to settings."),
  inventory: inventorySchema.default({}),
  vars: varsSchema.default({ recipients: [], generators: {} }),
});

/** What users write in hive.ts. */
export type HiveInput = z.input<typeof hiveSchema>;
export type NodeInput = z.input<typeof nodeSchema>;
export type MetaInput = z.input<typeof metaSchema>;
export type HealthCheckInput = z.input<typeof healthCheckSchema>;
export type KeyInput = z.input<typeof keySchema>;
export type InventoryInput = z.input<typeof inventorySchema>;
export type VarsInput = z.input<typeof varsSchema>;
export type GeneratorInput = z.input<typeof generatorSchema>;
export type ServiceInput = z.input<typeof serviceSchema>;

/** Settings after validation, defaults filled in. */
export type NodeSettings = z.output<typeof nodeSchema>;
export type Meta = z.output<typeof metaSchema>;
export type HealthCheck = z.output<typeof healthCheckSchema>;
export type Key = z.output<typeof keySchema>;
export type Inventory = z.output<typeof inventorySchema>;
export type Vars = z.output<typeof varsSchema>;
export type Generator = z.output<typeof generatorSchema>;
export type VarFile = z.output<typeof varFileSchema>;
export type Service = z.output<typeof serviceSchema>;

/** A short, safe rendering of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}
