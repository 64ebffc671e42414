// Errors of `hive vars` that stop a whole command (a generator's own failure is a result, not an error).
import { HiveError } from "../errors.js";

/** No identity to decrypt with, or one that cannot be read: the operator's setup, not hive.ts. */
export class VarsIdentityError extends HiveError {
  constructor(message: string, hint?: string) {
    super("E_VARS_IDENTITY", message, { hint });
  }
}

/** vars/ cannot be read or written (permissions, a corrupt manifest), or no private directory can be made. */
export class VarsStoreError extends HiveError {
  constructor(message: string, hint?: string) {
    super("E_VARS_STORE", message, { hint });
  }
}
