// What `hive status` reads of a node besides its systems: memory, disk, load, and the state of the
// services hive.ts declares (systemd unit, listening port). A script fragment for the facts round
// trip and its parser; everything it reads is world-readable.
import { quoteShellArg as q } from "../ssh/quote.js";

/** What to ask the node about: the units and TCP ports of hive.ts's services. */
export interface ProbeRequest {
  units: readonly string[];
  ports: readonly number[];
}

export interface NodeResources {
  memory: { totalBytes: number; availableBytes: number } | null;
  /** `/` and `/nix`; `/nix` is left out when it lies on the same filesystem as `/`. */
  disks: { path: string; mount: string; sizeBytes: number; usedBytes: number }[];
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number] | null;
  cpus: number | null;
}

export interface UnitState {
  /** `loaded`, `not-found`, ... */
  load: string;
  /** `active`, `inactive`, `failed`, `activating`, ... */
  active: string;
  /** `running`, `dead`, `exited`, ... */
  sub: string;
}

export interface ServiceProbes {
  /** By unit name; null where systemd does not run (the state is then unknown). */
  units: Map<string, UnitState> | null;
  /** TCP ports something listens on, of those asked about; null when /proc/net/tcp could not be read. */
  listening: Set<number> | null;
}

/**
 * Costs two processes (df, and awk over /proc/net/tcp when ports are asked about) plus one
 * `systemctl show` for all units together, where systemd runs; the rest is the shell's own `read`.
 */
export function probeScript(request: ProbeRequest): string {
  const lines = [
    `while read -r k v _; do case $k in MemTotal: | MemAvailable:) echo "meminfo=$k$v" ;; esac; done < /proc/meminfo 2>/dev/null`,
    `read -r l1 l5 l15 _ < /proc/loadavg 2>/dev/null && echo "load=$l1 $l5 $l15"`,
    `read -r cpus < /sys/devices/system/cpu/online 2>/dev/null && echo "cpus=$cpus"`,
    // Header first, then one line per path in the order asked: `/`, then `/nix`.
    `df -Pk / /nix 2>/dev/null | while read -r _ size used _ _ mount; do echo "df=$size $used $mount"; done`,
  ];
  if (request.units.length > 0) {
    lines.push(
      `if [ -d /run/systemd/system ]; then`,
      `  systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState -- ${request.units.map(q).join(" ")} 2>/dev/null | while IFS= read -r l; do echo "unit=$l"; done`,
      `fi`,
    );
  }
  if (request.ports.length > 0) {
    const want = ` ${request.ports.map(portHex).join(" ")} `;
    lines.push(
      `if [ -r /proc/net/tcp ]; then`,
      `  echo "ports-read=1"`,
      // State 0A is LISTEN; the local address ends in the port, in hex.
      `  awk -v want=${q(want)} 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (index(want, " " a[n] " ")) print "listening=" a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null`,
      `fi`,
    );
  }
  return lines.join("\n");
}

function portHex(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, "0");
}

/** Collects the probe lines of the facts output (key, value); call `finish` once every line was seen. */
export class ProbeParser {
  private meminfo = new Map<string, number>();
  private load: [number, number, number] | null = null;
  private cpus: number | null = null;
  private df: { size: number; used: number; mount: string }[] = [];
  private unitLines: string[] | null = null;
  private portsRead = false;
  private listening = new Set<number>();

  /** True when the line was a probe's. */
  take(key: string, value: string): boolean {
    switch (key) {
      case "meminfo": {
        const match = /^(\w+):(\d+)$/.exec(value);
        if (match) this.meminfo.set(match[1]!, Number(match[2]) * 1024);
        return true;
      }
      case "load": {
        const parts = value.split(" ").map(Number);
        if (parts.length === 3 && parts.every(Number.isFinite)) this.load = parts as [number, number, number];
        return true;
      }
      case "cpus":
        this.cpus = countCpus(value);
        return true;
      case "df": {
        const [size, used, ...mount] = value.split(" ");
        if (/^\d+$/.test(size ?? "") && /^\d+$/.test(used ?? "")) this.df.push({ size: Number(size) * 1024, used: Number(used) * 1024, mount: mount.join(" ") });
        return true;
      }
      case "unit":
        (this.unitLines ??= []).push(value);
        return true;
      case "ports-read":
        this.portsRead = true;
        return true;
      case "listening":
        if (/^[0-9A-F]{4}$/.test(value)) this.listening.add(Number.parseInt(value, 16));
        return true;
      default:
        return false;
    }
  }

  resources(): NodeResources {
    const total = this.meminfo.get("MemTotal");
    const available = this.meminfo.get("MemAvailable");
    const [root, nix] = this.df;
    const disks = [];
    if (root) disks.push({ path: "/", mount: root.mount, sizeBytes: root.size, usedBytes: root.used });
    if (nix && (!root || nix.mount !== root.mount)) disks.push({ path: "/nix", mount: nix.mount, sizeBytes: nix.size, usedBytes: nix.used });
    return {
      memory: total !== undefined && available !== undefined ? { totalBytes: total, availableBytes: available } : null,
      disks,
      load: this.load,
      cpus: this.cpus,
    };
  }

  /** `systemd`: whether the node runs systemd (the facts script says so). */
  services(systemd: boolean): ServiceProbes {
    let units: Map<string, UnitState> | null = null;
    if (systemd) {
      units = new Map();
      // Blocks of Key=Value lines, one per unit, separated by empty lines.
      let block = new Map<string, string>();
      const flush = () => {
        const id = block.get("Id");
        if (id) units!.set(id, { load: block.get("LoadState") ?? "unknown", active: block.get("ActiveState") ?? "unknown", sub: block.get("SubState") ?? "unknown" });
        block = new Map();
      };
      for (const line of this.unitLines ?? []) {
        const eq = line.indexOf("=");
        if (eq <= 0) flush();
        else block.set(line.slice(0, eq), line.slice(eq + 1));
      }
      flush();
    }
    return { units, listening: this.portsRead ? this.listening : null };
  }
}

/** `0-3,8,10-11` -> 7. */
function countCpus(online: string): number | null {
  let count = 0;
  for (const part of online.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return null;
    count += match[2] === undefined ? 1 : Number(match[2]) - Number(match[1]) + 1;
  }
  return count > 0 ? count : null;
}
