// Machine facts for benchmark reports, and replacing one `## ` section of docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, platform, release, totalmem } from "node:os";

export interface MachineInfo {
  date: string;
  nproc: number;
  cpu: string;
  memoryGiB: number;
  os: string;
  node: string;
  commit: string;
}

export function machineInfo(repoDir: string): MachineInfo {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    // Not a git checkout (e.g. an npm tarball): the report just says so.
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    commit,
  };
}

export function renderMachineInfo(info: MachineInfo): string {
  return `${info.date}, commit ${info.commit}; ${info.nproc} CPUs (${info.cpu}), ${info.memoryGiB} GiB, ${info.os}, Node.js ${info.node}.`;
}

/**
 * Replace the section that starts with `heading` (up to the next `## ` heading) in a Markdown file,
 * or append it; other sections stay as they are.
 */
export function replaceSection(file: string, heading: string, body: string, title = "# Benchmarks"): void {
  const section = `${heading}\n\n${body.trim()}\n`;
  const text = existsSync(file) ? readFileSync(file, "utf8") : `${title}\n`;
  writeFileSync(file, replaceSectionText(text, heading, section));
}

export function replaceSectionText(text: string, heading: string, section: string): string {
  const lines = text.split("\n");
  // Headings inside fenced code blocks (a `## ` shell comment) are not section boundaries.
  let fenced = false;
  const isHeading = lines.map((line) => {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    return !fenced && /^## /.test(line);
  });
  const start = lines.findIndex((line, i) => isHeading[i] && line.trimEnd() === heading);
  if (start === -1) return `${text.trimEnd()}\n\n${section}`;
  let end = isHeading.findIndex((heading, i) => i > start && heading);
  if (end === -1) end = lines.length;
  const before = lines.slice(0, start).join("\n");
  const after = lines.slice(end).join("\n");
  return `${before}${before === "" ? "" : "\n"}${section}${after === "" ? "" : `\n${after}`}`;
}
