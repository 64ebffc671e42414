// Errors of `hive vars` that stop a whole command (a generator's own failure is a result, not an error).
import { EXIT_CODES, HiveError } from "../errors.js";

/** No identity to decrypt with, or one that cannot be read: the operator's setup, not hive.ts. */
export class VarsIdentityError extends HiveError {
  readonly code = "E_VARS_IDENTITY";
  readonly exitCode = EXIT_CODES.failed;
  readonly fault = "user";
}

/** vars/ cannot be read or written (permissions, a corrupt manifest). */
export class VarsStoreError extends HiveError {
  readonly code = "E_VARS_STORE";
  readonly exitCode = EXIT_CODES.failed;
  readonly fault = "user";
}
