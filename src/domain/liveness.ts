import type { LivenessState } from '../store/types.js';

// A listener turns unstable at its first failed probe and dead after this many in a row; it
// is stable again after this many successes in a row.
export const DEAD_AFTER_FAILURES = 3;
export const STABLE_AFTER_SUCCESSES = 3;

/**
 * The liveness after one more probe result. `streak` counts consecutive results: positive for
 * successes, negative for failures.
 */
export function nextLiveness(state: LivenessState, streak: number, ok: boolean): { state: LivenessState; streak: number } {
  const next = ok ? Math.max(streak, 0) + 1 : Math.min(streak, 0) - 1;
  if (!ok) return { state: -next >= DEAD_AFTER_FAILURES ? 'dead' : 'unstable', streak: next };
  if (state === 'stable' || next >= STABLE_AFTER_SUCCESSES) return { state: 'stable', streak: next };
  return { state: 'unstable', streak: next };
}
