// Deployment keys: read on the deployer, uploaded over SSH, remembered on the node. The API apply and status use.
export { KeyConflictError, KeySourceError, KeyTargetError, KeyUploadError } from "./errors.js";
export { type KeyPlacement, type UploadAt, keyPlacements } from "./placement.js";
export { KEYS_MANIFEST_DIR, type ManifestEntry } from "./manifest.js";
export { Secret } from "./secret.js";
export { type PreparedKey, type PreparedKeys, type PrepareKeysOptions, prepareKeys, wipePreparedKeys } from "./sources.js";
export {
  type KeyHost,
  type KeyInspection,
  type KeyScriptOptions,
  type MissingKey,
  type RemovedKey,
  type UploadedKey,
  type UploadKeysOptions,
  type UploadPhase,
  inspectKeys,
  keyInspectionScript,
  keyManifestScript,
  parseKeyInspection,
  missingKeys,
  removeStaleKeys,
  uploadKeys,
} from "./upload.js";
