// The demo fleet: four nodes of the local lab (`npm run lab -- up --name demo`), systems from ./lab.
import { defineHive } from "nix-hive";

// The lab writes its client key and known_hosts here; real fleets use ssh-agent and ~/.ssh.
const labClient = `${process.env["HIVE_LAB_ROOT"] ?? "/var/lib/hive-lab"}/demo/client`;

export default defineHive({
  meta: {
    name: "demo",
    description: "A lab fleet on this machine: network namespaces, one sshd and one /nix per node.",
    flake: "./lab",
  },
  defaults: {
    targetUser: "root",
    ssh: { identityFile: `${labClient}/id_ed25519`, knownHostsFile: `${labClient}/known_hosts` },
    healthChecks: {
      web: { http: { port: 80, path: "/health" }, timeout: 2, interval: 1, deadline: 20, description: "the node's web service answers /health" },
    },
  },
  nodes: {
    "web-1": { targetHost: "10.78.1.1", tags: ["server"] },
    "web-2": { targetHost: "10.78.1.2", tags: ["server"] },
    "gpu-1": { targetHost: "10.78.1.3", tags: ["ai"] },
    "desk-1": { targetHost: "10.78.1.4", tags: ["workstation"] },
  },
});
