import { parseDuration } from './durations.js';

export const MAX_SCHEDULE_AHEAD_MS = 365 * 86_400_000;

export type DeliveryTime = { ok: true; at: number } | { ok: false; status: 400 | 422; reason: string };

/**
 * When a message's deliveries fall due: now, after `delay` (a duration or milliseconds), or at
 * `deliver_at` (epoch ms). A time in the past means now; more than a year ahead is refused.
 */
export function deliveryTime(input: { delay?: string | number; deliver_at?: number }, now: number): DeliveryTime {
  if (input.delay !== undefined && input.deliver_at !== undefined) {
    return { ok: false, status: 400, reason: 'send either delay or deliver_at, not both' };
  }
  let at = now;
  if (input.delay !== undefined) {
    const ms = parseDuration(input.delay);
    if (ms === undefined) return { ok: false, status: 400, reason: `delay "${input.delay}" is not a duration such as 30s, 5m or a number of milliseconds` };
    at = now + ms;
  } else if (input.deliver_at !== undefined) {
    at = Math.max(now, input.deliver_at);
  }
  if (at - now > MAX_SCHEDULE_AHEAD_MS) return { ok: false, status: 422, reason: 'a message can be delayed by at most a year' };
  return { ok: true, at };
}
