// How long to wait before the next attempt of a delivery.

const JITTER = 0.2;
// A listener's Retry-After is honoured up to this long.
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * The delay before attempt `attempt + 1`, after `attempt` failed attempts, or undefined when
 * the schedule is used up. Jitter of ±20% spreads retries of many messages that failed together.
 */
export function retryDelay(schedule: readonly number[], attempt: number, random: () => number = Math.random): number | undefined {
  const base = schedule[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), if it is usable. */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const value = header.trim();
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
