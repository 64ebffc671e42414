// How busy the machine's CPUs were over an interval, from /proc/stat (Linux): whole-machine, so a lab's nodes count too.
import { readFileSync } from "node:fs";

export interface CpuSnapshot {
  busy: number;
  total: number;
}

export function readCpu(): CpuSnapshot | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal; guest time is already counted in user.
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  } catch {
    return null;
  }
}

/** Share of all CPUs' time spent busy between two snapshots (0..1), or NaN when unknown. */
export function cpuBusyShare(before: CpuSnapshot | null, after: CpuSnapshot | null): number {
  if (before === null || after === null || after.total <= before.total) return Number.NaN;
  return (after.busy - before.busy) / (after.total - before.total);
}

/** How busy the CPUs are over the next `ms` milliseconds, e.g. to notice other work on the machine before measuring. */
export async function sampleCpuBusy(ms: number): Promise<number> {
  const before = readCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return cpuBusyShare(before, readCpu());
}

/**
 * CPU time (user + system, ms) of this process's finished children and their own waited-for descendants:
 * the difference around a command is what the command and everything it ran used. Linux clock ticks are 1/100 s.
 */
export function readChildrenCpuMs(): number {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return Number.NaN;
  }
}
