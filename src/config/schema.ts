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

export const keySchema = z
  .strictObject({
    text: z.string().optional().describe("The secret itself. Prefer file or command: hive.ts inside a flake is copied into the Nix store."),
    file: nonEmpty("a path").optional().describe("File on the deployer holding the secret."),
    command: argv("a command").optional().describe("Command (argv) run on the deployer; its stdout is the secret."),
    destDir: absolutePath("destDir").default("/run/keys").describe("Directory on the node."),
    name: z
      .string()
      .regex(/^[^/]+$/, "a key name must not contain '/'")
      .refine((n) => n !== "." && n !== "..", "a key name must not be '.' or '..'")
      .optional()
      .describe("File name on the node; default the key's name in hive.ts."),
    user: nonEmpty("a user").default("root").describe("Owner on the node."),
    group: nonEmpty("a group").default("root").describe("Group on the node."),
    permissions: z
      .string()
      .regex(/^0?[0-7]{3}$/, { error: (iss) => `expected octal permissions such as "0600", got ${describeValue(iss.input)}` })
      .default("0600")
      .describe("Octal file mode."),
    uploadAt: z.enum(["pre-activation", "post-activation"]).default("pre-activation").describe("When apply uploads it."),
  })
  .superRefine((key, ctx) => {
    const sources = (["text", "file", "command"] as const).filter((k) => key[k] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          sources.length === 0
            ? "a key needs exactly one source: text, file or command"
            : `a key needs exactly one source: text, file or command, got ${sources.join(" and ")}`,
      });
    }
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

/** The whole hive.ts default export, as users write it (see `HiveInput`). */
export const hiveSchema = z.strictObject({
  meta: metaSchema.default({ allowApplyAll: true, parallel: 10 }),
  defaults: nodeSchema.partial().optional().describe("Settings merged into every node; node values win."),
  nodes: z.record(nodeNameSchema, nodeSchema).describe("The fleet: node name to settings."),
});

/** What users write in hive.ts. */
export type HiveInput = z.input<typeof hiveSchema>;
export type NodeInput = z.input<typeof nodeSchema>;
export type MetaInput = z.input<typeof metaSchema>;
export type HealthCheckInput = z.input<typeof healthCheckSchema>;
export type KeyInput = z.input<typeof keySchema>;

/** Settings after validation, defaults filled in. */
export type NodeSettings = z.output<typeof nodeSchema>;
export type Meta = z.output<typeof metaSchema>;
export type HealthCheck = z.output<typeof healthCheckSchema>;
export type Key = z.output<typeof keySchema>;

/** A short, safe rendering of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}
