/**
 * The receiving end, as a child process of its own (so it never shares an event loop with the
 * load generator): a bare node:http server that answers every request 204 at once and notes,
 * for each POST, when it arrived and the send time stamped in the message's `data`.
 *
 * Any path is a listener (`/notify`, `/l/17`, …); GET (liveness probes) is answered 204 too.
 * The parent asks for counts and latency summaries over IPC; see `ListenerHandle`.
 *
 *   BENCH_LISTENER_PORT  port to listen on (default: any free one)
 *   BENCH_LISTENER_RUN   the run whose messages count from the start (see `reset`)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { now, readStamp, summarize, type Summary } from './load.js';
import { HOST, serveParent, spawnScript, type Child } from './processes.js';

export interface ListenerCount {
  distinct: number;
  duplicates: number;
  /** messages of an earlier run (late retries), ignored */
  stale: number;
  /** POSTs whose body held no stamp */
  unparsed: number;
  firstAt: number | null;
  lastAt: number | null;
}

export interface ListenerStats extends ListenerCount {
  /** receipt − (send time + asked delay), ms: plain latency when no delay was asked */
  latency: Summary;
  /** distinct messages per second between the first and the last receipt */
  perSecond: number;
}

/**
 * Why a wait for deliveries ended: all arrived; none arrived for a while (the rest are lost, or
 * wait for a retry); the time cap cut it short while they were still arriving (the rest are
 * late, not lost); the sender died.
 */
export type WaitEnd = 'complete' | 'idle' | 'cap' | 'sender-exited';

/** What the parent holds of a running listener process. */
export class ListenerHandle {
  constructor(
    readonly child: Child,
    readonly url: string,
  ) {}

  /** Starts a listener process on `port` (0: any), counting the messages of `run` from its first request. */
  static async start(port = 0, run = ''): Promise<ListenerHandle> {
    const child = await spawnScript('listener', './listener-process.ts', { BENCH_CHILD: 'listener', BENCH_LISTENER_PORT: String(port), BENCH_LISTENER_RUN: run });
    return new ListenerHandle(child, child.ready[1]!);
  }

  reset(run: string): Promise<void> {
    return this.child.call('reset', { run });
  }

  count(): Promise<ListenerCount> {
    return this.child.call('count');
  }

  stats(): Promise<ListenerStats> {
    return this.child.call('stats');
  }

  /** How many of `seqs` did not reach each of `paths`. */
  missing(seqs: number[], paths: string[]): Promise<number> {
    return this.child.call('missing', { seqs, paths });
  }

  /**
   * Waits until `expected` distinct messages arrived, or nothing new arrived for `idleMs`, or
   * `maxMs` passed, or the sender is gone (`senderAlive` answers false). Answers the last count.
   */
  async waitFor(expected: number, idleMs = 5_000, maxMs = 120_000, senderAlive: () => boolean = () => true): Promise<ListenerCount & { ended: WaitEnd }> {
    const started = Date.now();
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const c = await this.count();
      if (c.distinct >= expected) return { ...c, ended: 'complete' };
      if (c.distinct !== last) {
        last = c.distinct;
        lastChange = Date.now();
      }
      if (!senderAlive()) return { ...c, ended: 'sender-exited' };
      if (Date.now() - lastChange > idleMs) return { ...c, ended: 'idle' };
      if (Date.now() - started > maxMs) return { ...c, ended: 'cap' };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

// ---- the child --------------------------------------------------------------------------

function runListener(): void {
  let run = process.env.BENCH_LISTENER_RUN ?? '';
  let seen = new Set<string>();
  let latencies: number[] = [];
  let count: ListenerCount = { distinct: 0, duplicates: 0, stale: 0, unparsed: 0, firstAt: null, lastAt: null };

  const record = (path: string, body: string, at: number) => {
    let stamp;
    try {
      stamp = readStamp((JSON.parse(body) as { message?: { data?: unknown } }).message?.data);
    } catch {
      stamp = undefined;
    }
    if (!stamp) {
      count.unparsed++;
      return;
    }
    if (stamp.r !== run) {
      count.stale++;
      return;
    }
    const key = `${path}|${stamp.s}`;
    if (seen.has(key)) {
      count.duplicates++;
      return;
    }
    seen.add(key);
    count.distinct++;
    count.firstAt ??= at;
    count.lastAt = at;
    latencies.push(at - stamp.t - stamp.d);
  };

  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(204).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      res.writeHead(204).end();
      record((req.url ?? '/').split('?')[0]!, Buffer.concat(chunks).toString(), at);
    });
  });
  server.maxHeadersCount = 100;

  server.listen(Number(process.env.BENCH_LISTENER_PORT ?? 0), HOST, () => {
    const { port } = server.address() as AddressInfo;
    serveParent(
      {
        reset: ({ run: next }) => {
          run = String(next);
          seen = new Set();
          latencies = [];
          count = { distinct: 0, duplicates: 0, stale: 0, unparsed: 0, firstAt: null, lastAt: null };
        },
        count: () => count,
        stats: (): ListenerStats => {
          const spanS = count.firstAt !== null && count.lastAt !== null ? (count.lastAt - count.firstAt) / 1000 : 0;
          return { ...count, latency: summarize(latencies), perSecond: spanS > 0 ? Math.round((count.distinct - 1) / spanS) : 0 };
        },
        missing: ({ seqs, paths }) => {
          let missing = 0;
          for (const path of paths as string[]) for (const s of seqs as number[]) if (!seen.has(`${path}|${s}`)) missing++;
          return missing;
        },
      },
      `http://${HOST}:${port}`,
    );
  });
}

if (process.env.BENCH_CHILD === 'listener') runListener();
