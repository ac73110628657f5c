/**
 * Delayed messages: messages published with a `delay` drawn between 500 and 1,500 ms, at a light
 * (50 msg/s) and a heavy (1,000 msg/s) rate; lateness = receipt − (send time + delay).
 */
import { Discue } from '../discue.js';
import { describeE2e, endToEnd, type Context, type E2eResult } from './context.js';

export const RATES = { light: 50, heavy: 1_000 } as const;

export interface DelayedResults {
  durationMs: number;
  delayMs: [number, number];
  light?: E2eResult;
  heavy?: E2eResult;
  errors: string[];
}

export async function delayedScenario(ctx: Context): Promise<DelayedResults> {
  const durationMs = ctx.quick ? 2_000 : 10_000;
  const results: DelayedResults = { durationMs, delayMs: [500, 1_500], errors: [] };
  const delay = () => 500 + Math.floor(Math.random() * 1_001);
  try {
    const discue = await Discue.start(ctx.store);
    try {
      const queue = await discue.createQueue('delayed');
      await discue.addListener(queue, 'delayed', `${ctx.listener.url}/notify`, `${ctx.listener.url}/live`);
      for (const load of ['light', 'heavy'] as const) {
        const r = await endToEnd(ctx, discue.target(queue), RATES[load], durationMs, `delayed-${load}`, { delay, warmup: load === 'light', alive: () => discue.running });
        results[load] = r;
        ctx.log(`  ${load} ${describeE2e(r).replace('latency', 'lateness')}`);
      }
    } finally {
      await discue.stop();
    }
  } catch (err) {
    results.errors.push((err as Error).message);
    ctx.log(`  delayed failed: ${(err as Error).message}`);
  }
  return results;
}
