import type { FastifyBaseLogger } from 'fastify';
import { parseRetryAfter, retryDelay } from '../domain/retry.js';
import { newId } from '../domain/ids.js';
import type { DeliveryJob, DeliveryOutcome, Store } from '../store/types.js';
import type { SendResult } from './sender.js';
import { signatureHeader } from './signature.js';
import { untilDue, WakeableLoop } from '../wakeable.js';

export interface DeliverySettings {
  retrySchedule: readonly number[];
  deliveryTimeoutMs: number;
  /** Deliveries in flight at once, in all. */
  deliveryConcurrency: number;
  /** Deliveries in flight at once to one listener, so a slow one cannot starve the rest. */
  listenerConcurrency: number;
  /** Longest sleep between looks at the store: the safety net behind `wake`. */
  pollIntervalMs: number;
}

export interface Sender {
  send(method: 'POST', url: string, headers: Record<string, string>, body: string): Promise<SendResult>;
}

const CLAIM_BATCH = 100;
const USER_AGENT = 'discue-webhooks/1';

/**
 * Pushes due deliveries to listeners. It claims them with a lease (a claimed delivery is due
 * again when the lease ends, so a worker that dies mid-send loses nothing), sends them, and
 * records the outcomes in batches. It sleeps until the earliest due delivery or a `wake`.
 */
export class DeliveryWorker extends WakeableLoop {
  private inFlight = 0;
  private readonly perListener = new Map<string, number>();
  private readonly sends = new Set<Promise<void>>();
  /** Everything due by then was before the last claim: due work it left belongs to full listeners. */
  private claimSaw = 0;
  private pending: DeliveryOutcome[] = [];
  private writing: Promise<void> = Promise.resolve();
  /** Told of every attempt's outcome (metrics). Set it before the first send completes. */
  onOutcome: (outcome: DeliveryOutcome, job: DeliveryJob) => void = () => {};

  constructor(
    private readonly store: Store,
    private readonly sender: Sender,
    private readonly settings: DeliverySettings,
    private readonly logger: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {
    super(settings.pollIntervalMs);
  }

  /** Deliveries being sent now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Stops claiming, lets sends in flight finish, and writes their outcomes. */
  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.sends]);
    await this.writeOutcomes();
  }

  private get leaseMs(): number {
    // Longer than any one send can take, so a live worker never loses its lease mid-send.
    return 2 * this.settings.deliveryTimeoutMs + 5_000;
  }

  /**
   * Writes the outcomes that came in since the last turn and claims work for the free slots.
   * Both are asked for in the same tick, so the SQLite store commits them together. The turn
   * waits for the outcomes too: a slow store slows sending down, and never grows memory.
   */
  protected async turn(): Promise<void> {
    // Retries written now may commit beside the claim (PostgreSQL): it need not have seen them.
    const unseenFrom = Math.min(...this.pending.map((o) => (o.kind === 'retry' ? o.dueAt : Infinity)));
    const written = this.writeOutcomes();
    const limit = Math.min(this.settings.deliveryConcurrency - this.inFlight, CLAIM_BATCH);
    const claimed = limit > 0 ? await this.claim(limit, unseenFrom) : 0;
    await written;
    // Fewer than asked: what is due now was all taken, or its listeners are full. Either way
    // only a wake (a send done, new work) or the next due time can bring more.
    if (claimed < limit || limit <= 0) await this.sleep();
    else await this.sleeper.sleep(0);
  }

  protected onError(err: unknown): void {
    this.logger.error({ err }, 'claiming deliveries failed');
  }

  private async claim(limit: number, unseenFrom: number): Promise<number> {
    const now = this.now();
    this.claimSaw = Math.min(now, unseenFrom - 1);
    const jobs = await this.store.claimDeliveries({
      now,
      leaseUntil: now + this.leaseMs,
      limit,
      perListener: this.settings.listenerConcurrency,
      inFlight: this.perListener,
    });
    for (const job of jobs) this.dispatch(job);
    return jobs.length;
  }

  /**
   * Sleeps until woken (new work, or a send finished and freed room), the earliest due
   * delivery, or the poll interval, whichever is first. Work that is due but was not claimed
   * belongs to listeners without room: only a wake helps there.
   */
  private async sleep(): Promise<void> {
    const maxMs = this.settings.pollIntervalMs;
    // A store that fails now is retried at the next poll; the loop must outlive it.
    const nextDue = await this.store.nextDueAt().catch(() => undefined);
    // Due already when the last claim looked, yet not claimed: its listener has no room.
    // Due since then (a delayed message whose time came during the claim): claim it now.
    const blocked = nextDue !== undefined && nextDue <= this.claimSaw;
    await this.sleeper.sleep(blocked ? maxMs : untilDue(nextDue, this.now(), maxMs));
  }

  private dispatch(job: DeliveryJob): void {
    const listenerId = job.listener.id;
    this.inFlight += 1;
    this.perListener.set(listenerId, (this.perListener.get(listenerId) ?? 0) + 1);
    // The slot is free once the send ends, before its outcome is written (at the next turn):
    // the lease keeps the delivery from being claimed again meanwhile.
    const send = this.attempt(job)
      .then((outcome) => {
        // Ids and the outcome only: never the data or the listener's secret.
        this.logger.debug({ message: outcome.messageId, listener: listenerId, outcome: outcome.kind, status: outcome.status, error: outcome.error ?? undefined }, 'delivery attempt');
        this.pending.push(outcome);
        this.onOutcome(outcome, job);
      })
      .catch((err) => this.logger.error({ err, listener: listenerId }, 'delivery attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight -= 1;
        const left = (this.perListener.get(listenerId) ?? 1) - 1;
        if (left > 0) this.perListener.set(listenerId, left);
        else this.perListener.delete(listenerId);
        this.sends.delete(send);
        this.wake();
      });
    this.sends.add(send);
  }

  private async attempt(job: DeliveryJob): Promise<DeliveryOutcome> {
    const body = JSON.stringify({ message: job.message, queue: job.queue });
    const sentAt = this.now();
    const timestamp = Math.floor(sentAt / 1000);
    const result = await this.sender.send('POST', job.listener.notify_url, {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': job.message.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(job.listener, job.message.id, timestamp, body, sentAt),
    }, body);
    return this.outcomeOf(job, result);
  }

  private outcomeOf(job: DeliveryJob, result: SendResult): DeliveryOutcome {
    const at = this.now();
    const base = { messageId: job.message.id, listenerId: job.listener.id, lease: job.lease, at, status: result.status, error: result.error };
    const refs = { queue: job.queue, listener: { id: job.listener.id, name: job.listener.name }, message: { id: job.message.id, name: job.message.name } };
    const event = (type: 'message_published_ok' | 'message_published_not_ok') => ({ id: newId(), client_id: job.listener.client_id, type, stored_at: at, ...refs });
    if (result.status !== null && result.status >= 200 && result.status < 300) {
      return { ...base, kind: 'acknowledged', event: event('message_published_ok') };
    }
    const attempts = job.attempts + 1;
    const scheduled = retryDelay(this.settings.retrySchedule, attempts);
    if (scheduled === undefined) return { ...base, kind: 'missed', event: event('message_published_not_ok') };
    const asked = result.status === 429 || result.status === 503 ? parseRetryAfter(result.retryAfter, at) : undefined;
    return { ...base, kind: 'retry', dueAt: at + (asked ?? scheduled) };
  }

  /** Writes the outcomes that came in meanwhile, in one batch. */
  private writeOutcomes(): Promise<void> {
    if (this.pending.length === 0) return this.writing;
    const batch = this.pending;
    this.pending = [];
    const write = this.store.recordOutcomes(batch).catch((err: unknown) => {
      // The leases run out and the deliveries are sent again: at least once, never lost.
      this.logger.error({ err, count: batch.length }, 'recording delivery outcomes failed');
    });
    this.writing = Promise.all([this.writing, write]).then(() => undefined);
    return this.writing;
  }
}
