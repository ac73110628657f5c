/**
 * Publish throughput: 64 keep-alive connections publishing 256-byte messages as fast as they
 * are answered, for a fixed time after a warm-up; once with no listener on the queue, once
 * with one (a fast listener in its own process, so delivery runs alongside).
 */
import { Discue } from '../discue.js';
import { closedLoop, makeData, now, publishBody, type HttpTarget, type LoadResult } from '../load.js';
import { startBullmq } from '../peers/bullmq.js';
import { startPgBoss } from '../peers/pgboss.js';
import { attempter, runTag, type Context } from './context.js';

export const CONNECTIONS = 64;

export interface PublishPair {
  noListener?: LoadResult;
  oneListener?: LoadResult;
  /** messages the listener received while the one-listener run lasted */
  deliveredDuring?: number;
}

export interface PublishResults {
  connections: number;
  durationMs: number;
  discue: PublishPair;
  ceiling?: LoadResult;
  bullmq?: PublishPair;
  pgboss?: PublishPair;
  errors: string[];
}

async function hammer(ctx: Context, target: HttpTarget, name: string, run = runTag(name)): Promise<LoadResult> {
  const result = await closedLoop(target, {
    connections: CONNECTIONS,
    durationMs: ctx.quick ? 5_000 : 20_000,
    warmupMs: ctx.quick ? 500 : 1_000,
    body: (seq) => publishBody(makeData(run, seq, now())),
  });
  ctx.log(`  ${name}: ${Math.round(result.rps)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${result.errors} errors ${result.errors ? JSON.stringify(result.failures) : ''}`);
  return result;
}

async function pair(ctx: Context, name: string, start: (listenerUrl?: string) => Promise<{ target: HttpTarget; stop(): Promise<void> }>): Promise<PublishPair> {
  const out: PublishPair = {};
  let system = await start();
  try {
    out.noListener = await hammer(ctx, system.target, `${name} no listener`);
  } finally {
    await system.stop();
  }
  system = await start(`${ctx.listener.url}/notify`);
  try {
    const run = runTag(name);
    await ctx.listener.reset(run);
    out.oneListener = await hammer(ctx, system.target, `${name} one listener`, run);
    out.deliveredDuring = (await ctx.listener.count()).distinct;
  } finally {
    await system.stop();
  }
  return out;
}

/** One discue for both runs: first a queue without listeners, then one with a listener. */
async function discuePair(ctx: Context): Promise<PublishPair> {
  const discue = await Discue.start(ctx.store);
  try {
    const out: PublishPair = {};
    const bare = await discue.createQueue('publish-no-listener');
    out.noListener = await hammer(ctx, discue.target(bare), 'discue no listener');
    const queue = await discue.createQueue('publish-one-listener');
    await discue.addListener(queue, 'fast', `${ctx.listener.url}/notify`, `${ctx.listener.url}/live`);
    const run = runTag('discue');
    await ctx.listener.reset(run);
    out.oneListener = await hammer(ctx, discue.target(queue), 'discue one listener', run);
    out.deliveredDuring = (await ctx.listener.count()).distinct;
    return out;
  } finally {
    await discue.stop();
  }
}

export async function publishScenario(ctx: Context): Promise<PublishResults> {
  const results: PublishResults = { connections: CONNECTIONS, durationMs: ctx.quick ? 5_000 : 20_000, discue: {}, errors: [] };
  const attempt = attempter(ctx, results.errors);
  await attempt('discue', async () => void (results.discue = await discuePair(ctx)));
  await attempt('ceiling', async () => {
    await ctx.ceiling.relayTo([]);
    results.ceiling = await hammer(ctx, ctx.ceiling.target, 'ceiling');
  });
  let n = 0;
  if (ctx.redis) {
    const redis = ctx.redis;
    await attempt('bullmq', async () => void (results.bullmq = await pair(ctx, 'bullmq', (url) => startBullmq(redis, `publish-${++n}`, url))));
  }
  if (ctx.postgres) {
    const postgres = ctx.postgres;
    await attempt('pg-boss', async () => void (results.pgboss = await pair(ctx, 'pg-boss', (url) => startPgBoss(postgres, `publish_${++n}`, url))));
  }
  return results;
}
