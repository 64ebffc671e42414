// The --on grammar, parsed in one place for every command, and node selection against it.
//
//   selector := term ("," term)*          terms are OR'ed
//   term     := atom ("&" atom)*          atoms are AND'ed
//   atom     := "!"? ("@" pattern | pattern)   node name or @tag, globs allowed (* ? [..])
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
  kind: "name" | "tag";
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
}

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
  const kind = rest.startsWith("@") ? "tag" : "name";
  if (kind === "tag") rest = rest.slice(1);
  if (rest === "") invalid(`${JSON.stringify(text)} names no ${kind}`);
  if (!ATOM_PATTERN.test(rest)) {
    invalid(`${JSON.stringify(text)} has a character that is not allowed in a node name, tag or glob`);
  }
  return { text, negated, kind, pattern: rest, glob: GLOB_CHARS.test(rest) };
}

/** Does the atom (ignoring its negation) match the node? */
function atomMatches(atom: Atom, node: Selectable, matcher: (s: string) => boolean): boolean {
  return atom.kind === "name" ? matcher(node.name) : node.tags.some(matcher);
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
  const names = nodes.map((n) => n.name);
  const tags = [...new Set(nodes.flatMap((n) => n.tags))];
  const bang = atom.negated ? "!" : "";
  // A name that is exactly a tag (or the reverse) means that tag: `--on web` with a tag `web` is `@web`.
  if (atom.kind === "name" && tags.includes(atom.pattern)) return noMatch(atom, `${bang}@${atom.pattern}`);
  if (atom.kind === "tag" && names.includes(atom.pattern)) return noMatch(atom, `${bang}${atom.pattern}`);
  // Suggest within the same kind first, then across kinds (a tag written without '@', or the reverse).
  const sameKind = suggestClosest(atom.pattern, atom.kind === "tag" ? tags : names);
  const otherKind = suggestClosest(atom.pattern, atom.kind === "tag" ? names : tags);
  let suggestion = "";
  if (sameKind !== undefined) suggestion = `${bang}${atom.kind === "tag" ? "@" : ""}${sameKind}`;
  else if (otherKind !== undefined) suggestion = `${bang}${atom.kind === "tag" ? "" : "@"}${otherKind}`;
  return noMatch(atom, suggestion);
}

function noMatch(atom: Atom, suggestion: string): SelectorError {
  return new SelectorError(
    `no node or tag matches ${JSON.stringify(atom.text)}${suggestion === "" ? "" : `; did you mean ${JSON.stringify(suggestion)}?`}`,
    "`hive nodes` lists every node and its tags",
  );
}

const SELECTOR_HINT = "selectors look like `web-1,@db`, `@server&!@eu`, `web-*`; see `hive --help`";
