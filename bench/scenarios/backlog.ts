/**
 * Backlog: while the listener is down (its port refuses, so deliveries fail and wait for a retry,
 * and its liveness probes fail: after 3 it is `dead` and its deliveries are held), publish N
 * messages with 64 connections;
 * then start the listener and measure how fast the backlog drains, and how much slower the API
 * answers meanwhile: the p99 of a steady 200 msg/s of publishes (to another queue, without
 * listeners) during the drain against the same before it. Also discue's peak RSS (VmHWM).
 * The ceiling drains the same backlog from memory with discue's 16 connections per listener,
 * with the same steady publishes before and during its drain: the slowdown that is the
 * machine's (CPU shared with the listener and the load generator), not discue's.
 */
import { Discue, type ListenerView } from '../discue.js';
import { ListenerHandle, type ListenerStats, type WaitEnd } from '../listener-process.js';
import { closedLoop, makeData, now, openLoop, publishBody, type HttpTarget, type LoadResult } from '../load.js';
import { freePort, HOST, sleep } from '../processes.js';
import { runTag, type Context, type Published } from './context.js';

export const PROBE_RATE = 200;

export interface BacklogResults {
  messages: number;
  /** publishing the backlog */
  build?: LoadResult;
  /** from its creation until it was seen dead (after the backlog was published), ms */
  deadAfterMs?: number;
  /** the steady publishes before and during the drain */
  before?: Published;
  during?: Published;
  /** during p99 ÷ before p99 */
  slowdown?: number;
  drain?: {
    delivered: ListenerStats;
    /** listener start → first receipt (liveness probe + resuming the held deliveries), ms */
    resumeMs: number | null;
    /** listener start → last receipt, ms */
    totalMs: number | null;
    lost: number;
    /** when `cap`, the missing deliveries were still arriving */
    waitEnded: WaitEnd;
  };
  peakRssMb?: number;
  ceiling?: { delivered: ListenerStats; lost: number; before: Published; during: Published; slowdown: number };
  errors: string[];
}

const RETRY_SCHEDULE = ['1s', ...Array.from({ length: 29 }, () => '2s')].join(',');

async function publishAll(target: HttpTarget, run: string, messages: number): Promise<LoadResult & { okSeqs: number[] }> {
  const { okSeqs = [], ...result } = await closedLoop(target, { connections: 64, total: messages, keepSeqs: true, body: (seq) => publishBody(makeData(run, seq, now())) });
  return { ...result, okSeqs };
}

async function steady(target: HttpTarget, durationMs: number, signal?: AbortSignal): Promise<Published> {
  const { okSeqs: _, ...result } = await openLoop(target, { rate: PROBE_RATE, durationMs, signal, body: (seq, at) => publishBody(makeData('probe', seq, at)) });
  return result;
}

async function waitForState(discue: Discue, queue: string, listener: string, state: string, maxMs: number): Promise<ListenerView> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const view = await discue.listener(queue, listener);
    if (view.liveness.state === state) return view;
    if (Date.now() > deadline) throw new Error(`the listener is ${view.liveness.state}, not ${state}, after ${maxMs} ms`);
    await sleep(200);
  }
}

export async function backlogScenario(ctx: Context): Promise<BacklogResults> {
  const messages = ctx.quick ? 20_000 : 200_000;
  const results: BacklogResults = { messages, errors: [] };
  const port = await freePort();
  const run = runTag('backlog');
  const discue = await Discue.start(ctx.store, { DISCUE_LIVENESS_INTERVAL: '1s', DISCUE_RETRY_SCHEDULE: RETRY_SCHEDULE });
  let listener: ListenerHandle | undefined;
  try {
    const queue = await discue.createQueue('backlog');
    const probeQueue = await discue.createQueue('probe');
    const base = `http://${HOST}:${port}`;
    const listenerId = await discue.addListener(queue, 'down', `${base}/notify`, `${base}/live`);
    const started = Date.now();
    // Published at once: the first deliveries fail (refused) and wait for a retry until the
    // listener's third failed probe turns it dead and holds them all.
    ctx.log(`  publishing ${messages} messages while the listener is down`);
    const { okSeqs, ...build } = await publishAll(discue.target(queue), run, messages);
    results.build = build;
    ctx.log(`  backlog published: ${build.ok} in ${Math.round(build.durationMs)} ms (${build.rps}/s, p99 ${build.latency.p99} ms, ${build.errors} errors)`);
    await waitForState(discue, queue, listenerId, 'dead', 20_000);
    results.deadAfterMs = Date.now() - started;

    results.before = await steady(discue.target(probeQueue), ctx.quick ? 1_000 : 5_000);
    ctx.log(`  publish p99 before the drain: ${results.before.latency.p99} ms`);

    const drainStarted = Date.now();
    listener = await ListenerHandle.start(port, run);
    const stopProbe = new AbortController();
    const during = steady(discue.target(probeQueue), 30 * 60_000, stopProbe.signal);
    const count = await listener.waitFor(okSeqs.length, 15_000, ctx.capWait(ctx.quick ? 45_000 : 400_000), () => discue.running);
    stopProbe.abort();
    results.during = await during;
    const delivered = await listener.stats();
    results.drain = {
      delivered,
      resumeMs: count.firstAt === null ? null : Math.round(count.firstAt - drainStarted),
      totalMs: count.lastAt === null ? null : Math.round(count.lastAt - drainStarted),
      lost: await listener.missing(okSeqs, ['/notify']),
      waitEnded: count.ended,
    };
    results.slowdown = Math.round((results.during.latency.p99 / results.before.latency.p99) * 100) / 100;
    const rss = discue.peakRssKb();
    results.peakRssMb = rss === undefined ? undefined : Math.round(rss / 1024);
    ctx.log(
      `  drained ${delivered.distinct}/${okSeqs.length} at ${delivered.perSecond}/s (first after ${results.drain.resumeMs} ms, last after ${results.drain.totalMs} ms), ` +
        `${count.ended === 'cap' ? `${results.drain.lost} not delivered yet when the wait was cut` : `lost ${results.drain.lost}`}; ` +
        `publish p99 during ${results.during.latency.p99} ms (×${results.slowdown}); peak RSS ${results.peakRssMb} MiB`,
    );
  } catch (err) {
    results.errors.push(`discue: ${(err as Error).message}`);
    ctx.log(`  backlog failed: ${(err as Error).message}`);
  } finally {
    await listener?.stop();
    await discue.stop().catch((err: Error) => {
      results.errors.push(err.message);
      ctx.log(`  ${err.message}`);
    });
  }

  try {
    const ceilingRun = runTag('ceiling-backlog');
    await ctx.listener.reset(ceilingRun);
    await ctx.ceiling.relayTo([`${ctx.listener.url}/notify`]);
    await ctx.ceiling.pause();
    const { okSeqs } = await publishAll(ctx.ceiling.target, ceilingRun, messages);
    const before = await steady(ctx.ceiling.target, ctx.quick ? 1_000 : 5_000);
    await ctx.ceiling.resume();
    const stopProbe = new AbortController();
    const probing = steady(ctx.ceiling.target, 30 * 60_000, stopProbe.signal);
    await ctx.listener.waitFor(okSeqs.length, 10_000, ctx.capWait(ctx.quick ? 30_000 : 120_000));
    stopProbe.abort();
    const during = await probing;
    const slowdown = Math.round((during.latency.p99 / before.latency.p99) * 100) / 100;
    results.ceiling = { delivered: await ctx.listener.stats(), lost: await ctx.listener.missing(okSeqs, ['/notify']), before, during, slowdown };
    await ctx.ceiling.relayTo([]);
    ctx.log(`  ceiling drained ${results.ceiling.delivered.distinct} at ${results.ceiling.delivered.perSecond}/s; publish p99 ${before.latency.p99} → ${during.latency.p99} ms (×${slowdown})`);
  } catch (err) {
    results.errors.push(`ceiling: ${(err as Error).message}`);
  }
  return results;
}
