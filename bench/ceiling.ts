/**
 * The ceiling: what this machine can do with no storage at all, as a child process.
 *
 * - Publish: a bare node:http server answering discue's publish request with a fixed 200 JSON
 *   body, storing nothing.
 * - Delivery: the same server relays each published message, in memory, to the listener URLs it
 *   was given, with discue's concurrency (16 in flight per listener, 256 in all) over keep-alive
 *   connections: a bare sender. Paused, it piles the messages up, so that resuming it pushes a
 *   backlog as fast as the listener takes it.
 */
import { randomUUID } from 'node:crypto';
import { HOST, serveParent, spawnScript, type Child } from './processes.js';
import type { HttpTarget } from './load.js';
import { deliveryBody, Poster, servePublish } from './publish-server.js';

export const PER_LISTENER_CONCURRENCY = 16;
export const TOTAL_CONCURRENCY = 256;

export class CeilingHandle {
  constructor(
    readonly child: Child,
    readonly url: string,
  ) {}

  static async start(): Promise<CeilingHandle> {
    const child = await spawnScript('ceiling', './ceiling.ts', { BENCH_CHILD: 'ceiling' });
    return new CeilingHandle(child, child.ready[1]!);
  }

  get target(): HttpTarget {
    return { origin: this.url, path: '/v1/queues/ceiling/messages', headers: {} };
  }

  /** Relay every message published from now on to each of `urls` (none: store nothing, send nothing). */
  relayTo(urls: string[]): Promise<void> {
    return this.child.call('relayTo', { urls });
  }

  pause(): Promise<void> {
    return this.child.call('pause');
  }

  resume(): Promise<void> {
    return this.child.call('resume');
  }

  /** Deliveries waiting or in flight. */
  backlog(): Promise<number> {
    return this.child.call('backlog');
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

// ---- the child --------------------------------------------------------------------------

async function runCeiling(): Promise<void> {
  const poster = new Poster(TOTAL_CONCURRENCY);
  let targets: { url: string; queue: string[]; head: number; inFlight: number }[] = [];
  let paused = false;
  let inFlight = 0;
  let waiting = 0;

  const pump = () => {
    if (paused) return;
    let progressed = true;
    while (progressed && inFlight < TOTAL_CONCURRENCY && waiting > 0) {
      progressed = false;
      for (const t of targets) {
        if (inFlight >= TOTAL_CONCURRENCY) break;
        if (t.inFlight >= PER_LISTENER_CONCURRENCY || t.head >= t.queue.length) continue;
        const body = t.queue[t.head]!;
        t.queue[t.head++] = '';
        if (t.head > 4096 && t.head * 2 > t.queue.length) {
          t.queue = t.queue.slice(t.head);
          t.head = 0;
        }
        waiting--;
        t.inFlight++;
        inFlight++;
        progressed = true;
        void poster.post(t.url, body).then((ok) => {
          t.inFlight--;
          inFlight--;
          if (!ok) {
            // Bare, but not lossy: try again a second later.
            setTimeout(() => {
              t.queue.push(body);
              waiting++;
              pump();
            }, 1_000);
          }
          pump();
        });
      }
    }
  };

  const { url } = await servePublish(0, (p) => {
    const id = randomUUID();
    if (targets.length > 0) {
      const body = deliveryBody(id, p.name, p.data, Date.now(), p.queueId);
      for (const t of targets) t.queue.push(body);
      waiting += targets.length;
      pump();
    }
    return id;
  });

  serveParent(
    {
      relayTo: ({ urls }) => {
        targets = (urls as string[]).map((u) => ({ url: u, queue: [], head: 0, inFlight: 0 }));
        waiting = 0;
      },
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
        pump();
      },
      backlog: () => waiting + inFlight,
    },
    url.replace('127.0.0.1', HOST),
  );
}

if (process.env.BENCH_CHILD === 'ceiling') void runCeiling();
