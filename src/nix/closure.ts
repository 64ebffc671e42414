// The local store's view of the closures a deployment pushes, read for many nodes at once: two Nix
// processes (all requisites, then their registrations) per batch of nodes, not several per node.
import { HiveError } from "../errors.js";
import type { StorePathInfo } from "./export.js";
import { trimNixError } from "./nix-errors.js";
import type { ProcessRunner } from "./runner.js";

/** Reported as the push's failure on each node that needed the closure. */
export class ClosureQueryError extends HiveError {
  constructor(message: string) {
    super("E_CLOSURE", message);
  }
}

/**
 * Reads closures as nodes need them while their evaluations stream in: every root announced with
 * `want` by the time a closure is first asked for is read in the same two processes; roots
 * announced later are read together at the next request, and registrations read once are kept.
 */
export class ClosureReader {
  private readonly infos = new Map<string, StorePathInfo>();
  private wanted = new Set<string>();
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly runner: ProcessRunner,
    private readonly env?: Record<string, string | undefined>,
  ) {}

  /** A root whose closure will probably be asked for soon. */
  want(root: string): void {
    if (!this.infos.has(root)) this.wanted.add(root);
  }

  /** Every path `root` needs, dependencies first. */
  async closure(root: string): Promise<StorePathInfo[]> {
    if (!this.infos.has(root)) {
      this.want(root);
      // One read at a time: a request arriving during a read is served by the next one, with its peers.
      this.reading = this.reading.then(() => this.readWanted());
      await this.reading;
    }
    if (!this.infos.has(root)) throw new ClosureQueryError(`${root} was not among the closures read from the local store`);
    return closureOf(root, this.infos);
  }

  private async readWanted(): Promise<void> {
    const roots = [...this.wanted].filter((r) => !this.infos.has(r));
    this.wanted = new Set();
    if (roots.length === 0) return;
    const requisites = await this.runner.run("nix-store", ["--query", "--requisites", ...roots], { env: this.env });
    if (requisites.exitCode !== 0) throw new ClosureQueryError(`could not list the closures to push: ${trimNixError(requisites.stderr, 5)}`);
    const unknown = requisites.stdout.split("\n").filter((p) => p.startsWith("/") && !this.infos.has(p));
    for (let i = 0; i < unknown.length; i += DUMP_DB_BATCH) {
      const dump = await this.runner.run("nix-store", ["--dump-db", ...unknown.slice(i, i + DUMP_DB_BATCH)], { env: this.env });
      if (dump.exitCode !== 0) throw new ClosureQueryError(`could not read the store's registrations of the closures to push: ${trimNixError(dump.stderr, 5)}`);
      for (const info of parseRegistrations(dump.stdout)) this.infos.set(info.path, info);
    }
  }
}

/** Paths per `nix-store --dump-db` call: keeps each command line far below the kernel's limit. */
const DUMP_DB_BATCH = 2000;

/**
 * Parses `nix-store --dump-db` (Nix's registration format), per path: the path, its NAR hash
 * (base16, in current Nix possibly prefixed `sha256:`), its NAR size, its deriver (empty line when
 * none), the number of references, then each reference on a line of its own.
 */
export function parseRegistrations(text: string): StorePathInfo[] {
  const lines = text.split("\n");
  const infos: StorePathInfo[] = [];
  let i = 0;
  const next = (what: string) => {
    if (i >= lines.length) throw new ClosureQueryError(`nix-store --dump-db ended early (expected ${what})`);
    return lines[i++]!;
  };
  while (i < lines.length && lines[i] !== "") {
    const path = next("a path");
    const narHash = normalizeHash(next("a NAR hash"), path);
    const narSize = Number(next("a NAR size"));
    const deriver = next("a deriver");
    const count = Number(next("a reference count"));
    if (!path.startsWith("/") || !Number.isInteger(narSize) || !Number.isInteger(count) || count < 0) {
      throw new ClosureQueryError(`nix-store --dump-db printed a registration hive cannot read, near ${JSON.stringify(path)}`);
    }
    const references: string[] = [];
    for (let k = 0; k < count; k++) {
      const reference = next("a reference");
      if (!reference.startsWith("/")) throw new ClosureQueryError(`nix-store --dump-db ended early (expected a reference of ${path})`);
      references.push(reference);
    }
    infos.push({ path, narHash, narSize, deriver: deriver === "" ? null : deriver, references });
  }
  return infos;
}

function normalizeHash(text: string, path: string): string {
  const hex = text.startsWith("sha256:") ? text.slice("sha256:".length) : text;
  if (/^[0-9a-f]{64}$/i.test(hex)) return hex.toLowerCase();
  const sri = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(text);
  if (sri) return Buffer.from(sri[1]!, "base64").toString("hex");
  throw new ClosureQueryError(`nix-store --dump-db printed a NAR hash hive cannot read for ${path}: ${text}`);
}

/** Depth-first, references before referrers; a path's reference to itself is no dependency. */
export function closureOf(root: string, infos: ReadonlyMap<string, StorePathInfo>): StorePathInfo[] {
  const order: StorePathInfo[] = [];
  const seen = new Set<string>();
  // Iterative: real closures are deep enough that recursion is a needless risk.
  const stack: { info: StorePathInfo; next: number }[] = [];
  const enter = (path: string) => {
    seen.add(path);
    const info = infos.get(path);
    if (info === undefined) throw new ClosureQueryError(`${path} is in a closure but its registration was not read`);
    stack.push({ info, next: 0 });
  };
  enter(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const refs = top.info.references;
    if (top.next < refs.length) {
      const ref = refs[top.next++]!;
      if (ref !== top.info.path && !seen.has(ref)) enter(ref);
    } else {
      stack.pop();
      order.push(top.info);
    }
  }
  return order;
}
