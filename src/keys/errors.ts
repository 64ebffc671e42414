// Failures of deployment keys; each fails its node, never the run, and names the key.
import { NodeOperationError } from "../errors.js";

/** A key's source could not be read on the deployer (missing file, failing command): the node is left untouched. */
export class KeySourceError extends NodeOperationError {
  constructor(message: string, log: string[] = []) {
    super(message, "E_KEY_SOURCE", log);
    this.name = "KeySourceError";
  }
}

/** Two keys of one node would be written to the same file on it. */
export class KeyConflictError extends NodeOperationError {
  constructor(message: string) {
    super(message, "E_KEY_CONFLICT");
    this.name = "KeyConflictError";
  }
}

/** A key's owner or group does not exist on the node, or its path is unusable: nothing was written. */
export class KeyTargetError extends NodeOperationError {
  constructor(message: string, log: string[] = []) {
    super(message, "E_KEY_TARGET", log);
    this.name = "KeyTargetError";
  }
}

/** Writing or removing keys on the node failed part-way (or the connection dropped). */
export class KeyUploadError extends NodeOperationError {
  constructor(message: string, log: string[] = []) {
    super(message, "E_KEY_UPLOAD", log);
    this.name = "KeyUploadError";
  }
}
