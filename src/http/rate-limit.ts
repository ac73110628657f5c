export interface RateDecision {
  limit: number;
  remaining: number;
  /** End of the current window, epoch seconds. */
  reset: number;
  allowed: boolean;
}

const WINDOW_MS = 60_000;

/** Fixed one-minute windows per bucket (an api key, or a source address without one). */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly perMinute: number) {}

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  take(bucket: string, now: number): RateDecision {
    const start = now - (now % WINDOW_MS);
    let window = this.windows.get(bucket);
    if (!window || window.start !== start) {
      if (this.windows.size > 100_000) this.dropStale(start);
      window = { start, count: 0 };
      this.windows.set(bucket, window);
    }
    window.count += 1;
    return {
      limit: this.perMinute,
      remaining: Math.max(0, this.perMinute - window.count),
      reset: (start + WINDOW_MS) / 1000,
      allowed: window.count <= this.perMinute,
    };
  }

  private dropStale(currentStart: number): void {
    for (const [bucket, window] of this.windows) if (window.start !== currentStart) this.windows.delete(bucket);
  }
}
