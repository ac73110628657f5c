/**
 * Peer 2: pg-boss 10 on PostgreSQL (fsync on), as a child process shaped like discue:
 * `POST /v1/queues/:id/messages` is `boss.send` (answered once the job row is committed), and,
 * when given a listener URL, `boss.work` in the same process POSTs each job to it.
 *
 * Tuning: a pg-boss worker waits its polling interval after every fetch, jobs or not, unless
 * notified, so small batches cap it at batchSize / interval. Here 2 workers fetch batches of up
 * to 100 and POST 8 at a time each (16 in flight, as discue's per-listener limit), poll every
 * 0.5 s (pg-boss' shortest) and are woken by each send (`notifyWorker`), as discue's publish
 * wakes its worker. A job whose POST fails is failed alone (`boss.fail`) and retried
 * (10 retries, exponential backoff); the rest of its batch completes.
 *
 *   BENCH_DATABASE_URL, BENCH_QUEUE, BENCH_LISTENER_URL (optional)
 */
import PgBoss from 'pg-boss';
import type { Server } from '../infra.js';
import { serveParent, spawnScript } from '../processes.js';
import { deliveryBody, Poster, servePublish } from '../publish-server.js';
import type { PublishSystem } from './system.js';

export const WORKERS = 2;
export const BATCH_SIZE = 100;
export const SENDS_PER_WORKER = 8;

export async function startPgBoss(postgres: Server, queue: string, listenerUrl?: string): Promise<PublishSystem> {
  const child = await spawnScript('pg-boss-peer', './peers/pgboss.ts', {
    BENCH_CHILD: 'pgboss',
    BENCH_DATABASE_URL: postgres.url,
    BENCH_QUEUE: queue,
    ...(listenerUrl ? { BENCH_LISTENER_URL: listenerUrl } : {}),
  });
  return { name: 'pg-boss', child, target: { origin: child.ready[1]!, path: `/v1/queues/${queue}/messages`, headers: {} }, stop: () => child.stop() };
}

async function runPeer(): Promise<void> {
  const name = process.env.BENCH_QUEUE ?? 'bench';
  const listenerUrl = process.env.BENCH_LISTENER_URL;
  const boss = new PgBoss({ connectionString: process.env.BENCH_DATABASE_URL!, max: 32, schedule: false });
  boss.on('error', (err: Error) => process.stderr.write(`pg-boss: ${err.message}\n`));
  await boss.start();
  await boss.createQueue(name);
  const workers: string[] = [];
  if (listenerUrl) {
    const poster = new Poster(WORKERS * SENDS_PER_WORKER);
    type Payload = { name: string | null; data: string };
    const deliver = async (job: PgBoss.Job<Payload>) => poster.post(listenerUrl, deliveryBody(job.id, job.data.name, job.data.data, Date.now(), name));
    for (let i = 0; i < WORKERS; i++) {
      workers.push(
        await boss.work<Payload>(name, { batchSize: BATCH_SIZE, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          const failed: string[] = [];
          let next = 0;
          const lane = async () => {
            while (next < jobs.length) {
              const job = jobs[next++]!;
              if (!(await deliver(job))) failed.push(job.id);
            }
          };
          await Promise.all(Array.from({ length: SENDS_PER_WORKER }, lane));
          if (failed.length > 0) await boss.fail(name, failed);
        }),
      );
    }
  }
  const { url } = await servePublish(0, async (p) => {
    const id = await boss.send(name, { name: p.name, data: p.data }, { retryLimit: 10, retryDelay: 1, retryBackoff: true });
    for (const worker of workers) boss.notifyWorker(worker);
    if (!id) throw new Error('not queued');
    return id;
  });
  serveParent({}, url);
}

if (process.env.BENCH_CHILD === 'pgboss') void runPeer();
