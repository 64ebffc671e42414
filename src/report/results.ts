// The one vocabulary of per-node outcomes shared by every command's table and --json.

export const NODE_RESULTS = ["succeeded", "unchanged", "failed", "rolled-back", "skipped"] as const;

/** What happened to one node: every command that acts on nodes reports exactly one of these. */
export type NodeResult = (typeof NODE_RESULTS)[number];

/** Results that make the command exit non-zero. */
export function isFailure(result: NodeResult): boolean {
  return result === "failed" || result === "rolled-back";
}
