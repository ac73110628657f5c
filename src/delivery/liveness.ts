import type { FastifyBaseLogger } from 'fastify';
import type { Store } from '../store/types.js';
import type { SendResult } from './sender.js';

export interface Prober {
  send(method: 'GET', url: string, headers: Record<string, string>): Promise<SendResult>;
}

// Probes in flight at once: one slow liveness_url holds one slot, not the round.
const MAX_PROBES_IN_FLIGHT = 64;
// Deliveries held or resumed per write: the API's writes get their turn between batches.
const ALIGN_BATCH = 500;

/**
 * Probes listeners' `liveness_url` with GET every interval. Each listener's first probe falls
 * at a random point of the interval, so probes spread over it instead of coming in bursts.
 * Probes run side by side, each on its own; a tick claims only as many as there are free
 * slots. A dead listener's deliveries are held; a live one's resumed, and the worker woken.
 */
export class LivenessProber {
  private timer: NodeJS.Timeout | undefined;
  private claiming = false;
  private readonly probes = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly prober: Prober,
    private readonly intervalMs: number,
    private readonly onResumed: () => void,
    private readonly logger: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** How often due probes are looked for: often enough to keep each listener near its interval. */
  private get tickMs(): number {
    return Math.max(50, Math.min(1_000, Math.floor(this.intervalMs / 10)));
  }

  start(): void {
    this.timer ??= setInterval(() => void this.probeDue(), this.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.probes]);
  }

  /** Starts the due probes there are slots for; resolves when they are claimed, not done. */
  private async probeDue(): Promise<void> {
    const room = MAX_PROBES_IN_FLIGHT - this.probes.size;
    if (this.claiming || room <= 0) return;
    this.claiming = true;
    try {
      const now = this.now();
      for (const target of await this.store.claimProbes(now, now + this.intervalMs, room)) {
        const probe = this.probe(target.id, target.liveness_url)
          .catch((err) => this.logger.error({ err, listener: target.id }, 'liveness probe failed'))
          .finally(() => this.probes.delete(probe));
        this.probes.add(probe);
      }
    } catch (err) {
      this.logger.error({ err }, 'claiming liveness probes failed');
    } finally {
      this.claiming = false;
    }
  }

  private async probe(listenerId: string, url: string): Promise<void> {
    const result = await this.prober.send('GET', url, { 'user-agent': 'discue-liveness/1' });
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const change = await this.store.recordProbe(listenerId, ok, this.now());
    if (change) await this.align(listenerId, change.to !== 'dead');
  }

  /**
   * After every probe, not only a change of state: an alignment cut short by a crash goes on,
   * and a publish that saw the listener dead just before it revived may have held a delivery.
   */
  private async align(listenerId: string, live: boolean): Promise<void> {
    for (;;) {
      const changed = await this.store.alignDeliveries(listenerId, this.now(), ALIGN_BATCH);
      if (changed > 0 && live) this.onResumed();
      if (changed < ALIGN_BATCH) return;
    }
  }
}
