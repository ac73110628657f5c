/**
 * Peer 1: BullMQ on redis-server (AOF, fsync every second), as a child process shaped like
 * discue: `POST /v1/queues/:id/messages` adds a job (`queue.add`, answered once Redis has it),
 * and, when given a listener URL, a BullMQ Worker in the same process (concurrency 16, as
 * discue's per-listener limit) POSTs each job to it, retried with exponential backoff when
 * the listener does not answer 2xx.
 *
 *   BENCH_REDIS_HOST, BENCH_REDIS_PORT, BENCH_QUEUE, BENCH_LISTENER_URL (optional)
 */
import { Queue, Worker } from 'bullmq';
import type { Server } from '../infra.js';
import { serveParent, spawnScript } from '../processes.js';
import { deliveryBody, Poster, servePublish } from '../publish-server.js';
import type { PublishSystem } from './system.js';

export const WORKER_CONCURRENCY = 16;

export async function startBullmq(redis: Server, queue: string, listenerUrl?: string): Promise<PublishSystem> {
  const child = await spawnScript('bullmq-peer', './peers/bullmq.ts', {
    BENCH_CHILD: 'bullmq',
    BENCH_REDIS_HOST: redis.host,
    BENCH_REDIS_PORT: String(redis.port),
    BENCH_QUEUE: queue,
    ...(listenerUrl ? { BENCH_LISTENER_URL: listenerUrl } : {}),
  });
  return { name: 'bullmq', child, target: { origin: child.ready[1]!, path: `/v1/queues/${queue}/messages`, headers: {} }, stop: () => child.stop() };
}

async function runPeer(): Promise<void> {
  const name = process.env.BENCH_QUEUE ?? 'bench';
  const listenerUrl = process.env.BENCH_LISTENER_URL;
  const connection = { host: process.env.BENCH_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT), maxRetriesPerRequest: null };
  const queue = new Queue(name, {
    connection,
    defaultJobOptions: { attempts: 11, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: true, removeOnFail: 10_000 },
  });
  await queue.waitUntilReady();
  if (listenerUrl) {
    const poster = new Poster(WORKER_CONCURRENCY);
    const worker = new Worker(
      name,
      async (job) => {
        const { name: messageName, data } = job.data as { name: string | null; data: string };
        if (!(await poster.post(listenerUrl, deliveryBody(job.id!, messageName, data, job.timestamp, name)))) throw new Error('the listener did not acknowledge');
      },
      { connection, concurrency: WORKER_CONCURRENCY },
    );
    worker.on('error', (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
    await worker.waitUntilReady();
  }
  const { url } = await servePublish(0, async (p) => (await queue.add('message', { name: p.name, data: p.data })).id!);
  serveParent({}, url);
}

if (process.env.BENCH_CHILD === 'bullmq') void runPeer();
