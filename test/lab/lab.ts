// hive's lab fleet: the API tests and later features use (up, down, status, faults, lab flakes).
export type { ExecResult, Lab, LabFlakeData, LabNode, LabNodeKnobs, LabNodeStatus, LabStatus, UpLabOptions } from "./lab-types.js";
export { LabError, defaultSubnet, nodeAddress, resolveLabDir, resolveLabRoot } from "./lab-layout.js";
export { loadLab } from "./lab-state.js";
export { upLab } from "./up-lab.js";
export { downLab } from "./down-lab.js";
export { formatLabStatus, labStatus } from "./lab-status.js";
export { findFreeSubnet } from "./network.js";
export { readLabPids, readNodePids, type NodePids } from "./node-runtime.js";
export { isProcessRunning, type ProcessId } from "./processes.js";
export { cutNetwork, execOnNode, freezeNode, killService, rebootNode, resetNode, restoreNetwork, startSshd, stopSshd, thawNode } from "./faults.js";
export { LAB_FLAKE_SOURCE, LAB_NIX_CONFIG, buildLabSystem, labNixEnv, labSshOptions, makeLabFlake, setNodeKnobs, setVersion } from "./lab-flake.js";
