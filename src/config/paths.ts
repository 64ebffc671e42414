// Formats zod issue paths as the dotted paths users see in error messages.

/** `nodes.web1.healthChecks.web.http.port`, quoting keys that are not plain identifiers. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      out += `[${segment}]`;
    } else {
      const key = String(segment);
      const plain = /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key);
      out += (out === "" ? "" : ".") + (plain ? key : JSON.stringify(key));
    }
  }
  return out;
}
