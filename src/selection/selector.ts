// The --on grammar, parsed in one place for every command, and node selection against it.
//
//   selector := term ("," term)*          terms are OR'ed
//   term     := atom ("&" atom)*          atoms are AND'ed
//   atom     := "!"? ("@" pattern | "%" role | pattern)   node name, @tag or %role; globs allowed (* ? [..])
//   role     := service ("." role-name)?    an inventory role; `%service` alone is any role of the service
//
// A term that is a single negated atom removes its nodes from the union of the other terms;
// a selector made only of such terms starts from all nodes.
import picomatch from "picomatch";
import { SelectorError } from "../errors.js";
import { suggestClosest } from "../util/suggest.js";

export interface Atom {
  /** The atom as written, for messages. */
  text: string;
  negated: boolean;
  kind: "name" | "tag" | "role";
  /** For roles, always `service.role` (`%zerotier` reads as `zerotier.*`). */
  pattern: string;
  glob: boolean;
}

export interface Term {
  atoms: Atom[];
}

export interface Selector {
  text: string;
  /** Terms whose union is the starting set (all nodes when there are none). */
  include: Term[];
  /** Single negated atoms removed from that union. */
  exclude: Atom[];
}

export interface Selectable {
  name: string;
  tags: readonly string[];
  /** Inventory roles, as `service.role`. */
  roles?: readonly string[];
}

const SIGILS: Record<string, Atom["kind"] | undefined> = { "@": "tag", "%": "role" };

const GLOB_CHARS = /[*?[\]]/;
const ATOM_PATTERN = /^[A-Za-z0-9_.*?[\]-]+$/;

export function parseSelector(text: string): Selector {
  const invalid = (what: string): never => {
    throw new SelectorError(`invalid selector ${JSON.stringify(text)}: ${what}`, SELECTOR_HINT);
  };
  if (text.trim() === "") invalid("it is empty");
  const include: Term[] = [];
  const exclude: Atom[] = [];
  text.split(",").forEach((rawTerm, termIndex) => {
    if (rawTerm.trim() === "") invalid(`term ${termIndex + 1} is empty (two commas in a row, or a comma at an end)`);
    const atoms = rawTerm.split("&").map((rawAtom) => {
      const atomText = rawAtom.trim();
      if (atomText === "") invalid(`${JSON.stringify(rawTerm.trim())} has an empty side of '&'`);
      return parseAtom(atomText, invalid);
    });
    if (atoms.length === 1 && atoms[0]!.negated) exclude.push(atoms[0]!);
    else include.push({ atoms });
  });
  return { text, include, exclude };
}

function parseAtom(text: string, invalid: (what: string) => never): Atom {
  let rest = text;
  const negated = rest.startsWith("!");
  if (negated) rest = rest.slice(1).trimStart();
  const kind = SIGILS[rest.charAt(0)] ?? "name";
  if (kind !== "name") rest = rest.slice(1);
  if (rest === "") invalid(`${JSON.stringify(text)} names no ${kind}`);
  if (!ATOM_PATTERN.test(rest)) {
    invalid(`${JSON.stringify(text)} has a character that is not allowed in a node name, tag, role or glob`);
  }
  if (kind === "role") {
    if (rest.split(".").length > 2 || rest.startsWith(".") || rest.endsWith(".")) {
      invalid(`${JSON.stringify(text)} is not a role: write %service.role, or %service for any of its roles`);
    }
    if (!rest.includes(".")) rest = `${rest}.*`;
  }
  return { text, negated, kind, pattern: rest, glob: GLOB_CHARS.test(rest) };
}

function valuesOf(kind: Atom["kind"], node: Selectable): readonly string[] {
  return kind === "name" ? [node.name] : kind === "tag" ? node.tags : (node.roles ?? []);
}

/** Does the atom (ignoring its negation) match the node? */
function atomMatches(atom: Atom, node: Selectable, matcher: (s: string) => boolean): boolean {
  return valuesOf(atom.kind, node).some(matcher);
}

/**
 * The nodes the selector picks, in their original order. Without a selector: all of them.
 * An atom that matches no node at all is an error with the closest name or tag.
 */
export function selectNodes<T extends Selectable>(nodes: readonly T[], selector: string | Selector | undefined): T[] {
  if (selector === undefined) return [...nodes];
  const parsed = typeof selector === "string" ? parseSelector(selector) : selector;
  const matchers = new Map<Atom, (s: string) => boolean>();
  for (const atom of [...parsed.include.flatMap((t) => t.atoms), ...parsed.exclude]) {
    const glob = atom.glob ? picomatch(atom.pattern, { dot: true }) : undefined;
    // Wrapped: picomatch's matcher takes a second argument that Array.some would fill with an index.
    const matcher = glob ? (s: string) => glob(s) : (s: string) => s === atom.pattern;
    if (!nodes.some((node) => atomMatches(atom, node, matcher))) throw noMatchError(atom, nodes);
    matchers.set(atom, matcher);
  }
  const matches = (atom: Atom, node: T) => atomMatches(atom, node, matchers.get(atom)!) !== atom.negated;
  const selected = nodes.filter((node) => {
    const included = parsed.include.length === 0 || parsed.include.some((term) => term.atoms.every((atom) => matches(atom, node)));
    return included && parsed.exclude.every((atom) => matches(atom, node));
  });
  if (selected.length === 0) {
    throw new SelectorError(`selector ${JSON.stringify(parsed.text)} matches no node: every node is excluded by its terms`, SELECTOR_HINT);
  }
  return selected;
}

function noMatchError(atom: Atom, nodes: readonly Selectable[]): SelectorError {
  const bang = atom.negated ? "!" : "";
  const written = atom.text.replace(/^!?\s*[@%]?/, "");
  // `%zerotier` names a service: suggest among services, not whole roles.
  const known = (kind: Atom["kind"]) => {
    const values = nodes.flatMap((n) => valuesOf(kind, n));
    return new Set(kind === "role" && !written.includes(".") ? values.map((r) => r.split(".")[0]!) : values);
  };
  const sigil = (kind: Atom["kind"]) => (kind === "tag" ? "@" : kind === "role" ? "%" : "");
  // A name that is exactly a tag (or the reverse) means that tag: `--on web` with a tag `web` is `@web`.
  const exact = (["name", "tag"] as const).find((kind) => kind !== atom.kind && atom.kind !== "role" && known(kind).has(written));
  let suggestion = exact === undefined ? "" : `${bang}${sigil(exact)}${written}`;
  // Suggest within the same kind first, then across kinds (a tag written without '@', or the reverse).
  for (const kind of [atom.kind, ...(["name", "tag", "role"] as const).filter((k) => k !== atom.kind)]) {
    if (suggestion !== "") break;
    const closest = suggestClosest(written, known(kind));
    if (closest !== undefined) suggestion = `${bang}${sigil(kind)}${closest}`;
  }
  const what = atom.kind === "role" ? "no node has the role" : "no node or tag matches";
  return new SelectorError(
    `${what} ${JSON.stringify(atom.text)}${suggestion === "" ? "" : `; did you mean ${JSON.stringify(suggestion)}?`}`,
    "`hive nodes` lists every node with its tags and roles",
  );
}

const SELECTOR_HINT = "selectors look like `web-1,@db`, `@server&!@eu`, `web-*`, `%zerotier.peer`; see `hive --help`";
