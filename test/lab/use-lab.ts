// For e2e test files: the shared lab from global setup, or a skip (with the reason) when absent.
import { beforeEach, inject } from "vitest";
import type { Lab } from "./lab-types.js";

export const LAB_SKIP_REASON = "no lab: the e2e lab needs root (see the warning from global setup)";

/** Returns a getter for the shared lab; every test in the file skips with a reason if there is none. */
export function useLab(): () => Lab {
  const lab = inject("lab");
  beforeEach((context) => {
    if (!lab) context.skip(LAB_SKIP_REASON);
  });
  return () => {
    if (!lab) throw new Error(LAB_SKIP_REASON);
    return lab;
  };
}
