import type { FastifyBaseLogger } from 'fastify';
import type { Store } from '../store/types.js';
import type { SendResult } from './sender.js';

export interface Prober {
  send(method: 'GET', url: string, headers: Record<string, string>): Promise<SendResult>;
}

const PROBE_BATCH = 50;

/**
 * Probes listeners' `liveness_url` with GET every interval. Each listener's first probe falls
 * at a random point of the interval, so probes spread over it instead of coming in bursts.
 * A listener that revives wakes the delivery worker, since its held deliveries are due.
 */
export class LivenessProber {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly prober: Prober,
    private readonly intervalMs: number,
    private readonly onRevived: () => void,
    private readonly logger: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** How often due probes are looked for: often enough to keep each listener near its interval. */
  private get tickMs(): number {
    return Math.max(50, Math.min(1_000, Math.floor(this.intervalMs / 10)));
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.round = this.round.then(() => this.probeDue()).catch((err) => this.logger.error({ err }, 'liveness probing failed'));
    }, this.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  async probeDue(): Promise<void> {
    const now = this.now();
    const due = await this.store.claimProbes(now, now + this.intervalMs, PROBE_BATCH);
    await Promise.all(
      due.map(async (target) => {
        const result = await this.prober.send('GET', target.liveness_url, { 'user-agent': 'discue-liveness/1' });
        const ok = result.status !== null && result.status >= 200 && result.status < 300;
        const change = await this.store.recordProbe(target.id, ok, this.now());
        if (change && change.from === 'dead' && change.to !== 'dead') this.onRevived();
      }),
    );
  }
}
