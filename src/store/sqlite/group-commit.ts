import type Database from 'better-sqlite3';

interface Job {
  work: () => unknown;
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: the write transactions requested while the event loop was busy run together
 * in one SQLite transaction, so one fsync (synchronous=FULL) serves them all. Each runs in a
 * savepoint of its own, so one that fails rolls back alone and only its caller sees the error;
 * every caller learns of its outcome only after the commit, so a resolved write is on disk.
 *
 * A batch of only `durable: false` writes (delivery bookkeeping: claims, outcomes, probes)
 * commits without fsync (synchronous=NORMAL): a crash may lose it, which at worst sends a
 * message again, and the next durable commit's fsync writes it to disk anyway.
 */
export class GroupCommit {
  private pending: Job[] = [];
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';

  constructor(private readonly db: Database.Database) {}

  run<T>(work: () => T, durable = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, durable, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    this.setSynchronous(batch.some((job) => job.durable) ? 'FULL' : 'NORMAL');
    try {
      this.db
        .transaction(() => {
          for (const job of batch) {
            try {
              // A transaction inside a transaction is a savepoint in better-sqlite3.
              outcomes.push({ ok: true, value: this.db.transaction(job.work)() });
            } catch (err) {
              outcomes.push({ ok: false, err });
            }
          }
        })
        .immediate();
    } catch (err) {
      // The commit itself failed (disk full, busy): nothing of the batch was written.
      for (const job of batch) job.reject(err);
      return;
    }
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.err);
    });
  }

  private setSynchronous(level: 'FULL' | 'NORMAL'): void {
    if (level === this.synchronous) return;
    this.db.pragma(`synchronous = ${level}`);
    this.synchronous = level;
  }
}
