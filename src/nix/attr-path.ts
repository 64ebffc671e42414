// Parses the `system` attribute paths of hive.ts into Nix attribute selections, safely quoted.

/** Split `nixosConfigurations."web.example".config.system.build.toplevel` into its attribute names. */
export function parseAttrPath(path: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '"') {
      const end = path.indexOf('"', i + 1);
      if (end === -1) throw new Error(`unterminated quote in attribute path ${JSON.stringify(path)}`);
      names.push(path.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = path.indexOf(".", i);
      if (end === -1) end = path.length;
      names.push(path.slice(i, end));
      i = end;
    }
    if (i < path.length) {
      if (path[i] !== ".") throw new Error(`expected '.' after ${JSON.stringify(names.at(-1))} in attribute path ${JSON.stringify(path)}`);
      i += 1;
      if (i === path.length) throw new Error(`attribute path ${JSON.stringify(path)} ends with '.'`);
    }
  }
  if (names.length === 0 || names.some((n) => n === "")) throw new Error(`empty attribute name in ${JSON.stringify(path)}`);
  return names;
}

/** A Nix string literal: JSON escaping plus `$` escaped so `${` can not interpolate. */
export function nixString(value: string): string {
  return JSON.stringify(value).replace(/\$/g, "\\$");
}
