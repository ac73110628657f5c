import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Store } from '../store/types.js';
import { SchemaCache } from '../domain/schema-cache.js';
import { Scheduler } from '../scheduling/scheduler.js';
import { LivenessProber } from './liveness.js';
import { HttpSender } from './sender.js';
import { DeliveryWorker } from './worker.js';

const RETENTION_SWEEP_MS = 60_000;
// Messages deleted per transaction: small enough never to hold the store for long.
const RETENTION_BATCH = 1_000;

export interface DeliveryService {
  worker: DeliveryWorker;
  prober: LivenessProber;
  scheduler: Scheduler;
  stop(): Promise<void>;
}

/**
 * The background of a discue process: delivery worker, liveness prober, scheduler and
 * retention sweep, started together.
 */
export async function startDelivery(store: Store, config: Config, logger: FastifyBaseLogger): Promise<DeliveryService> {
  const sender = new HttpSender(config.deliveryTimeoutMs, config.allowPrivateTargets);
  const worker = new DeliveryWorker(store, sender, config, logger);
  const prober = new LivenessProber(store, sender, config.livenessIntervalMs, () => worker.wake(), logger);
  const scheduler = new Scheduler(store, new SchemaCache(), config, () => worker.wake(), logger);
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = setInterval(() => {
    sweeping = sweeping.then(async () => void (await purgeExpired(store, Date.now() - config.messageRetentionMs))).catch((err) => logger.error({ err }, 'purging messages failed'));
  }, RETENTION_SWEEP_MS);
  sweep.unref();
  const unwatch = await store.watchWork(() => {
    worker.wake();
    scheduler.wake();
  });
  worker.start();
  prober.start();
  scheduler.start();
  return {
    worker,
    prober,
    scheduler,
    stop: async () => {
      clearInterval(sweep);
      await unwatch();
      await scheduler.stop();
      await Promise.all([worker.stop(), prober.stop(), sweeping]);
      await sender.close();
    },
  };
}

/** Deletes acknowledged messages older than `before`, a batch per transaction. */
export async function purgeExpired(store: Store, before: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await store.purgeAcknowledgedMessages(before, RETENTION_BATCH);
    total += deleted;
    if (deleted < RETENTION_BATCH) return total;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
