// "Did you mean" suggestions for mistyped names, tags and settings.
import { distance } from "fastest-levenshtein";

/** The candidate closest to `input`, or undefined when none is close enough to be a plausible typo. */
export function suggestClosest(input: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(input.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(input.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const match = suggestClosest(input, candidates);
  return match === undefined ? "" : `; did you mean ${JSON.stringify(match)}?`;
}
