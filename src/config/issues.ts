// Turns zod issues into one-line messages: dotted path, what is wrong, and a suggestion.
import type * as z from "zod";
import { didYouMean } from "../util/suggest.js";
import { formatPath } from "./paths.js";

/** One message per problem, e.g. `nodes.web1.tag: unknown setting; did you mean "tags"?`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root: z.ZodType, prefix: PropertyKey[] = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(root, issue.path);
      for (const key of issue.keys) {
        lines.push(`${formatPath([...path, key])}: unknown setting${didYouMean(key, known)}`);
      }
    } else if (issue.code === "invalid_key") {
      const inner = issue.issues[0];
      lines.push(`${formatPath(path)}: ${inner?.message ?? issue.message}`);
    } else if (issue.code === "invalid_union") {
      const first = issue.errors.flat()[0];
      lines.push(`${formatPath(path)}: ${first?.message ?? issue.message}`);
    } else {
      lines.push(`${formatPath(path)}: ${issue.message}`);
    }
  }
  return lines;
}

/** The setting names valid at `path` in `schema`, for suggestions. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (current === undefined) return [];
    const def = current._zod.def as unknown as Record<string, unknown>;
    if (def["type"] === "object") {
      current = (def["shape"] as Record<string, z.core.$ZodType>)[String(segment)];
    } else if (def["type"] === "record") {
      current = def["valueType"] as z.core.$ZodType;
    } else if (def["type"] === "array") {
      current = def["element"] as z.core.$ZodType;
    } else {
      return [];
    }
    current = current === undefined ? undefined : unwrap(current);
  }
  if (current === undefined) return [];
  const def = current._zod.def as unknown as Record<string, unknown>;
  return def["type"] === "object" ? Object.keys(def["shape"] as object) : [];
}

/** Strip optional, default, pipe and similar wrappers down to the structural schema. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as unknown as Record<string, unknown>;
    const inner = def["innerType"] ?? (def["type"] === "pipe" ? def["in"] : undefined);
    if (inner === undefined) return current;
    current = inner as z.core.$ZodType;
  }
}
