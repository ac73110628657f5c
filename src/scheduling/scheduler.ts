import type { FastifyBaseLogger } from 'fastify';
import { parseCron } from '../domain/cron.js';
import { newId } from '../domain/ids.js';
import { dataProblem, newMessage } from '../domain/messages.js';
import type { SchemaCache } from '../domain/schema-cache.js';
import type { Queue, Schedule, Store, Tick, UsageEvent } from '../store/types.js';
import { untilDue, WakeableLoop } from '../wakeable.js';

const TICK_BATCH = 100;

export interface SchedulerSettings {
  maxDataBytes: number;
  pollIntervalMs: number;
}

/**
 * Publishes a message for each tick of each enabled schedule. A tick is claimed by a
 * conditional move of the schedule's `next_run_at`, in the same transaction as the message,
 * so any number of schedulers on one store fire each tick exactly once. After downtime only
 * the latest missed tick fires: the next one is computed from now, not from the missed one.
 */
export class Scheduler extends WakeableLoop {

  constructor(
    private readonly store: Store,
    private readonly schemas: SchemaCache,
    private readonly settings: SchedulerSettings,
    private readonly onFired: () => void,
    private readonly logger: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {
    super(settings.pollIntervalMs);
  }

  /** Fires every due tick; returns how many this scheduler fired. */
  async fireDue(): Promise<number> {
    const now = this.now();
    let fired = 0;
    for (const { schedule, queue } of await this.store.dueSchedules(now, TICK_BATCH)) {
      if (await this.store.fireTick(this.tickOf(schedule, queue, now))) fired += 1;
    }
    if (fired > 0) this.onFired();
    return fired;
  }

  private tickOf(schedule: Schedule, queue: Queue, now: number): Tick {
    const parsed = parseCron(schedule.cron, schedule.timezone);
    const next = parsed.ok ? (parsed.schedule.next(now) ?? null) : null;
    const base = { schedule, due: schedule.next_run_at!, next, at: now };
    const refs = { queue: { id: queue.id, name: queue.name }, schedule: { id: schedule.id, name: schedule.name } };
    const event = (type: UsageEvent['type'], extra: object = {}): UsageEvent => ({ id: newId(), client_id: schedule.client_id, type, stored_at: now, ...refs, ...extra });
    // The same rules as the API: a tick whose data no longer fits the queue is recorded, not sent.
    const problem = dataProblem(schedule.data, queue, this.schemas, this.settings.maxDataBytes);
    if (problem) return { ...base, outcome: { event: event('schedule_failed') } };
    const message = newMessage(queue, { name: schedule.message_name ?? schedule.name, data: schedule.data, scheduleId: schedule.id }, now);
    return { ...base, outcome: { message, event: event('message_added', { message: { id: message.id, name: message.name } }) } };
  }

  protected async turn(): Promise<void> {
    await this.fireDue();
    const nextTick = await this.store.nextTickAt();
    await this.sleeper.sleep(untilDue(nextTick, this.now(), this.settings.pollIntervalMs));
  }

  protected onError(err: unknown): void {
    this.logger.error({ err }, 'firing schedules failed');
  }
}
