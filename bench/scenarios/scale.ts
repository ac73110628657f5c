import { Discue } from '../discue.js';
import { closedLoop, makeData, now, publishBody, type HttpTarget } from '../load.js';
import { CONNECTIONS } from './publish.js';
import { attempter, runTag, type Context } from './context.js';

export interface ScaleResults {
  store: string;
  /** publishes/s with one API process, and with two sharing the same connections */
  oneProcess?: number;
  twoProcesses?: number;
  growth?: number;
  errors: string[];
}

/** Publishes/s over `targets`, the connections split evenly between them. */
async function throughput(ctx: Context, targets: HttpTarget[], name: string): Promise<number> {
  const run = runTag(name);
  const results = await Promise.all(
    targets.map((target) =>
      closedLoop(target, {
        connections: CONNECTIONS / targets.length,
        durationMs: ctx.quick ? 5_000 : 15_000,
        warmupMs: ctx.quick ? 500 : 1_000,
        body: (seq) => publishBody(makeData(`${run}-${target.origin}`, seq, now())),
      }),
    ),
  );
  const rps = results.reduce((sum, r) => sum + r.rps, 0);
  ctx.log(`  ${name}: ${Math.round(rps)} req/s (${results.map((r) => `${Math.round(r.rps)}, p99 ${r.latency.p99} ms`).join(' + ')})`);
  return rps;
}

/**
 * Publish throughput with one API process, then with a second API process on the same store
 * (the scale-out topology): how throughput grows with processes. Meaningful on PostgreSQL
 * (`--store=postgres`); on SQLite both processes share one writer.
 */
export async function scaleScenario(ctx: Context): Promise<ScaleResults> {
  const results: ScaleResults = { store: ctx.store.name, errors: [] };
  const attempt = attempter(ctx, results.errors);
  const discue = await Discue.start(ctx.store);
  try {
    const queue = await discue.createQueue('scale');
    await attempt('one process', async () => void (results.oneProcess = await throughput(ctx, [discue.target(queue)], 'discue, 1 API process')));
    const peer = await discue.startApiPeer();
    try {
      await attempt('two processes', async () => void (results.twoProcesses = await throughput(ctx, [discue.target(queue), peer.target(queue)], 'discue, 2 API processes')));
    } finally {
      await peer.stop();
    }
    if (results.oneProcess && results.twoProcesses) results.growth = Math.round((results.twoProcesses / results.oneProcess) * 100) / 100;
  } finally {
    await discue.stop();
  }
  return results;
}
