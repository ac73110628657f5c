import type { CeilingHandle } from '../ceiling.js';
import type { DiscueStore } from '../discue.js';
import type { Server } from '../infra.js';
import { makeData, openLoop, publishBody, type HttpTarget, type OpenLoopResult } from '../load.js';
import type { ListenerHandle, ListenerStats, WaitEnd } from '../listener-process.js';

/** What every scenario is handed by the orchestrator. */
export interface Context {
  quick: boolean;
  /** discue's store for this run (the embedded SQLite store unless --store says otherwise) */
  store: DiscueStore;
  /** the shared receiving process (its URL + `/notify` is "the listener") */
  listener: ListenerHandle;
  ceiling: CeilingHandle;
  /** present when the peers are run */
  redis?: Server;
  postgres?: Server;
  log(line: string): void;
  /**
   * `ms`, or less when the run's time budget is nearly spent (at least 3 s): waits for
   * deliveries are capped by it, so a slow machine cuts them short instead of overrunning.
   */
  capWait(ms: number): number;
}

export const WARMUP_MS = 500;

/** Runs a part of a scenario; a failure is noted in `errors` and logged, and the rest goes on. */
export function attempter(ctx: Context, errors: string[]) {
  return async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
      ctx.log(`  ${what} failed: ${(err as Error).message}`);
    }
  };
}

let runs = 0;
/** A tag no earlier run used: late deliveries of an earlier run are not counted in this one. */
export const runTag = (name: string) => `${name}-${++runs}`;

export type Published = Omit<OpenLoopResult, 'okSeqs'>;

export interface E2eResult {
  rate: number;
  publish: Published;
  delivered: ListenerStats;
  /** published (answered 2xx) but not received by the end of the wait (at most 10 s after the
   * last publish in --quick, 60 s otherwise) */
  lost: number;
  /** why the wait ended: when `cap`, the ones missing were still arriving (late, not lost) */
  waitEnded: WaitEnd;
}

/**
 * Publishes to `target` at `rate` msg/s for `durationMs` (open loop), each message stamped with
 * its send time, then waits for the listener to have them all: latency = receipt − send time.
 * A warm-up (0.5 s at the same rate, without delays), delivered before the measured run
 * begins, lets a freshly started process compile its hot paths first.
 */
export async function endToEnd(
  ctx: Context,
  target: HttpTarget,
  rate: number,
  durationMs: number,
  name: string,
  options: { delay?: () => number; warmup?: boolean; alive?: () => boolean } = {},
): Promise<E2eResult> {
  const { delay, warmup = true, alive } = options;
  const wait = ctx.quick ? { idleMs: 3_000, maxMs: 10_000 } : { idleMs: 5_000, maxMs: 60_000 };
  const cap = () => ctx.capWait(wait.maxMs);
  if (warmup) {
    const warm = runTag(`${name}-warmup`);
    await ctx.listener.reset(warm);
    const w = await openLoop(target, { rate, durationMs: WARMUP_MS, body: (seq, sentAt) => publishBody(makeData(warm, seq, sentAt)) });
    await ctx.listener.waitFor(w.okSeqs.length, wait.idleMs, cap(), alive);
  }
  const run = runTag(name);
  await ctx.listener.reset(run);
  const { okSeqs, ...publish } = await openLoop(target, {
    rate,
    durationMs,
    body: (seq, sentAt) => {
      const d = delay?.();
      return publishBody(makeData(run, seq, sentAt, d ?? 0), d);
    },
  });
  const { ended } = await ctx.listener.waitFor(okSeqs.length, wait.idleMs, cap(), alive);
  const delivered = await ctx.listener.stats();
  const lost = await ctx.listener.missing(okSeqs, ['/notify']);
  return { rate, publish, delivered, lost, waitEnded: ended };
}

export const describeE2e = (r: E2eResult) =>
  `${r.rate}/s: published ${r.publish.ok}/${r.publish.attempted} (p99 ${r.publish.latency.p99} ms), delivered ${r.delivered.distinct} ` +
  `(${r.delivered.perSecond}/s), latency p50 ${r.delivered.latency.p50} p99 ${r.delivered.latency.p99} max ${r.delivered.latency.max} ms, ` +
  `${r.waitEnded === 'cap' ? `${r.lost} not delivered yet when the wait was cut` : `lost ${r.lost}`}, dup ${r.delivered.duplicates}`;
