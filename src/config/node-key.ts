// A node's key as the rest of hive uses it, and the source of a key that is a generated secret.
import type { Key } from "./schema.js";

/** A key's source when it is a generated secret: where its encrypted file lies, and who decrypts it. */
export interface VarKeySource {
  generator: string;
  file: string;
  /** Absolute path of the `.age` file in vars/. */
  path: string;
  /** Identity file hive.ts names (absolute); $HIVE_AGE_IDENTITY and the defaults are looked up when reading. */
  identity?: string;
}

/** A key of a node: hive.ts's settings, its file name resolved, and a `var` source resolved to its file. */
export type NodeKey = Omit<Key, "var"> & { name: string; var?: VarKeySource };
