/**
 * Locks a source out after too many invalid credentials within a window: a brute-force guard.
 * Kept in memory; the map is bounded so a flood of sources cannot exhaust memory.
 */
export class Lockout {
  private readonly failures = new Map<string, { count: number; windowStart: number; lockedUntil: number }>();

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
    private readonly durationMs: number,
    private readonly limit = 100_000,
  ) {}

  /** Seconds the source stays locked, or 0. */
  lockedFor(source: string, now: number): number {
    const entry = this.failures.get(source);
    return entry && entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0;
  }

  recordFailure(source: string, now: number): void {
    let entry = this.failures.get(source);
    if (!entry || now - entry.windowStart >= this.windowMs) {
      if (!entry && this.failures.size >= this.limit) {
        this.prune(now);
        // Every tracked source is locked out: the map stays bounded, the newcomer untracked.
        if (this.failures.size >= this.limit) return;
      }
      entry = { count: 0, windowStart: now, lockedUntil: entry?.lockedUntil ?? 0 };
      this.failures.set(source, entry);
    }
    entry.count += 1;
    if (entry.count >= this.threshold) entry.lockedUntil = now + this.durationMs;
  }

  /** Drops every source that is not locked out: a flood of sources must not lift a lock-out. */
  private prune(now: number): void {
    for (const [source, entry] of this.failures) {
      if (entry.lockedUntil <= now) this.failures.delete(source);
    }
  }
}
