/** When to try a failed delivery again: exponential backoff with jitter, or what the provider asked. */

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 10 * 60_000;
/** A provider asking for more than this is not waited for longer (the delivery keeps its place). */
export const RETRY_AFTER_MAX_MS = 60 * 60_000;
export const DEFAULT_MAX_ATTEMPTS = 10;

/**
 * Delay before attempt `attempt + 1`, `attempt` being the number already made (1 after the first).
 * Jitter spreads retries over the upper half of the exponential step; a Retry-After (or Discord's
 * retry_after) is honoured as a floor.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  return Math.round(Math.min(RETRY_AFTER_MAX_MS, Math.max(retryAfterMs, 0)));
}
