// Types of hive's lab fleet: what a lab is (lab.json), how to ask for one, and what status reports.

/** One lab node: a network and mount namespace running its own sshd. */
export interface LabNode {
  name: string;
  /** Address on the lab bridge, e.g. 10.78.1.1; sshd listens on port 22 here. */
  address: string;
  /** Network namespace name, e.g. hl-demo-1 (see `ip netns list`). */
  netns: string;
  /**
   * The node's veth, seen from the other end: on the host (a port of the lab bridge), or for a
   * node behind a jump host, inside the jump host's netns.
   */
  veth: string;
  /** Set for a node reachable only through another node (ssh -J): that node's name. */
  jumpHost?: string;
}

/** A running lab as written to `<dir>/lab.json`; JSON-serializable. */
export interface Lab {
  name: string;
  /** State dir: `${HIVE_LAB_ROOT:-/var/lib/hive-lab}/<name>`. */
  dir: string;
  /** First two octets, e.g. "10.78"; the lab owns `<subnet>.0.0/16`. */
  subnet: string;
  /** The host's address on the lab bridge, `<subnet>.0.1`. */
  hostAddress: string;
  /** Bridge device joining the nodes and the host. */
  bridge: string;
  /** Client private key accepted for root and deploy on every node. */
  identityFile: string;
  /** known_hosts with every node's host key, for StrictHostKeyChecking=yes. */
  knownHostsFile: string;
  /** ssh_config with the options above for the lab's addresses and node names. */
  sshConfigFile: string;
  nodes: LabNode[];
}

export interface UpLabOptions {
  name: string;
  /** First two octets, e.g. "10.77". */
  subnet: string;
  /** Node names, or a count for node-1..node-N. */
  nodes: string[] | number;
  /** How many nodes boot at once (default 8). */
  concurrency?: number;
  /**
   * Nodes reachable only through another node: { hidden: jumpNode }. A hidden node hangs off
   * its jump node by a veth of its own, off the lab bridge, so the host cannot reach it directly.
   */
  jumpHosts?: Record<string, string>;
}

export interface LabNodeStatus {
  name: string;
  address: string;
  netns: string;
  /** The node's init (namespace holder) is running. */
  initAlive: boolean;
  /** sshd is running and answers with an SSH banner. */
  sshdAlive: boolean;
  /** The hive-lab-web service (busybox httpd) is running. */
  serviceAlive: boolean;
  /** Target of the node's /run/current-system, if any. */
  currentSystem: string | null;
}

export interface LabStatus {
  name: string;
  subnet: string;
  dir: string;
  nodes: LabNodeStatus[];
}

/** Knobs of one lab system in a lab flake's nodes.json. */
export interface LabNodeKnobs {
  version?: string;
  failActivation?: boolean;
  unitsFailed?: boolean;
  unhealthy?: boolean;
  activationSleep?: number;
  payloadKiB?: number;
  /** A dependency of the toplevel fails to build (its own log says why). */
  failBuild?: boolean;
}

/** Contents of a lab flake's nodes.json. */
export interface LabFlakeData {
  system?: string;
  version: string;
  nodes: Record<string, LabNodeKnobs>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}
