/**
 * Fan-out: one queue with 50 listeners (one receiving process, 50 paths), N messages published
 * as fast as they are answered; deliveries per second (first to last receipt) and the latency
 * of each delivery from its message's send time. The ceiling relays the same messages to the
 * same 50 paths with discue's concurrency (16 per listener, 256 in all).
 */
import { Discue } from '../discue.js';
import { closedLoop, makeData, now, publishBody, type HttpTarget, type LoadResult } from '../load.js';
import type { ListenerStats, WaitEnd } from '../listener-process.js';
import { runTag, type Context } from './context.js';

export const LISTENERS = 50;

export interface FanoutRun {
  publish: LoadResult;
  delivered: ListenerStats;
  expected: number;
  lost: number;
  /** when `cap`, the missing deliveries were still arriving */
  waitEnded: WaitEnd;
}

export interface FanoutResults {
  listeners: number;
  messages: number;
  discue?: FanoutRun;
  ceiling?: FanoutRun;
  errors: string[];
}

const paths = Array.from({ length: LISTENERS }, (_, i) => `/l/${i}`);

async function fanout(ctx: Context, target: HttpTarget, messages: number, name: string, alive?: () => boolean): Promise<FanoutRun> {
  const run = runTag(name);
  await ctx.listener.reset(run);
  const { okSeqs = [], ...publish } = await closedLoop(target, {
    connections: 16,
    total: messages,
    keepSeqs: true,
    body: (seq) => publishBody(makeData(run, seq, now())),
  });
  const expected = okSeqs.length * LISTENERS;
  const { ended } = await ctx.listener.waitFor(expected, ctx.quick ? 3_000 : 10_000, ctx.capWait(ctx.quick ? 20_000 : 180_000), alive);
  const delivered = await ctx.listener.stats();
  const lost = await ctx.listener.missing(okSeqs, paths);
  ctx.log(`  ${name}: ${delivered.distinct}/${expected} deliveries, ${delivered.perSecond}/s, latency p50 ${delivered.latency.p50} p99 ${delivered.latency.p99} ms, lost ${lost}`);
  return { publish, delivered, expected, lost, waitEnded: ended };
}

export async function fanoutScenario(ctx: Context): Promise<FanoutResults> {
  const messages = ctx.quick ? 200 : 2_000;
  const results: FanoutResults = { listeners: LISTENERS, messages, errors: [] };
  try {
    const discue = await Discue.start(ctx.store);
    try {
      const queue = await discue.createQueue('fanout');
      for (const path of paths) await discue.addListener(queue, `fanout${path.replace(/\//g, '-')}`, `${ctx.listener.url}${path}`, `${ctx.listener.url}/live`);
      results.discue = await fanout(ctx, discue.target(queue), messages, 'discue fan-out', () => discue.running);
    } finally {
      await discue.stop();
    }
  } catch (err) {
    results.errors.push(`discue: ${(err as Error).message}`);
    ctx.log(`  discue fan-out failed: ${(err as Error).message}`);
  }
  try {
    await ctx.ceiling.relayTo(paths.map((p) => `${ctx.listener.url}${p}`));
    results.ceiling = await fanout(ctx, ctx.ceiling.target, messages, 'ceiling fan-out');
    await ctx.ceiling.relayTo([]);
  } catch (err) {
    results.errors.push(`ceiling: ${(err as Error).message}`);
  }
  return results;
}
