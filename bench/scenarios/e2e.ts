/**
 * End to end: open-loop publishing at fixed rates to a queue with one real listener (its own
 * process); latency = receipt time − send time stamped in the message. Also counts what was
 * published but never arrived (must be 0) and the sustained deliveries per second.
 */
import { Discue } from '../discue.js';
import { startBullmq } from '../peers/bullmq.js';
import { startPgBoss } from '../peers/pgboss.js';
import type { PublishSystem } from '../peers/system.js';
import { attempter, describeE2e, endToEnd, type Context, type E2eResult } from './context.js';

export const PEER_RATE = 1_000;

export interface E2eResults {
  durationMs: number;
  rates: number[];
  discue: E2eResult[];
  ceiling: E2eResult[];
  bullmq?: E2eResult;
  pgboss?: E2eResult;
  errors: string[];
}

export async function e2eScenario(ctx: Context): Promise<E2eResults> {
  const durationMs = ctx.quick ? 3_000 : 10_000;
  // The quick sweep is 500 and 2,000 msg/s; 1,000 msg/s (the target, and the peers' rate) is run in both.
  const rates = ctx.quick ? [500, PEER_RATE, 2_000] : [500, PEER_RATE, 2_000, 5_000];
  const results: E2eResults = { durationMs, rates, discue: [], ceiling: [], errors: [] };
  const notify = `${ctx.listener.url}/notify`;
  const attempt = attempter(ctx, results.errors);

  // One discue for the sweep (warmed up once): each rate's messages are all delivered before the next rate starts.
  await attempt('discue', async () => {
    const discue = await Discue.start(ctx.store);
    try {
      const queue = await discue.createQueue('e2e');
      await discue.addListener(queue, 'e2e', notify, `${ctx.listener.url}/live`);
      for (const [i, rate] of rates.entries()) {
        const r = await endToEnd(ctx, discue.target(queue), rate, durationMs, `discue-e2e-${rate}`, { warmup: i === 0, alive: () => discue.running });
        results.discue.push(r);
        ctx.log(`  discue ${describeE2e(r)}`);
      }
    } finally {
      await discue.stop();
    }
  });
  await attempt('ceiling', async () => {
    await ctx.ceiling.relayTo([notify]);
    // --quick runs the ceiling at the peers' rate only.
    for (const [i, rate] of (ctx.quick ? [PEER_RATE] : rates).entries()) {
      const r = await endToEnd(ctx, ctx.ceiling.target, rate, durationMs, `ceiling-e2e-${rate}`, { warmup: i === 0 });
      results.ceiling.push(r);
      ctx.log(`  ceiling ${describeE2e(r)}`);
    }
    await ctx.ceiling.relayTo([]);
  });

  const peer = async (name: string, start: () => Promise<PublishSystem>) => {
    const system = await start();
    try {
      const r = await endToEnd(ctx, system.target, PEER_RATE, durationMs, `${name}-e2e`);
      ctx.log(`  ${name} ${describeE2e(r)}`);
      return r;
    } finally {
      await system.stop();
    }
  };
  if (ctx.redis) {
    const redis = ctx.redis;
    await attempt('bullmq', async () => void (results.bullmq = await peer('bullmq', () => startBullmq(redis, 'e2e', notify))));
  }
  if (ctx.postgres) {
    const postgres = ctx.postgres;
    await attempt('pg-boss', async () => void (results.pgboss = await peer('pg-boss', () => startPgBoss(postgres, 'e2e', notify))));
  }
  return results;
}
