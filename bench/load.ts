/**
 * Load generators (closed loop: N connections as fast as answers come; open loop: a fixed
 * rate whatever the answers do), the message payload that carries its send time, and latency
 * percentiles.
 */
import { Pool } from 'undici';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across local processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export const DATA_BYTES = 256;

export interface Stamp {
  /** run tag: a listener counts only the current run's messages */
  r: string;
  /** sequence number within the run */
  s: number;
  /** send time (epoch ms, fractional) */
  t: number;
  /** delay asked for, ms */
  d: number;
}

/** A message `data` of exactly DATA_BYTES bytes (ASCII) carrying its stamp. */
export function makeData(run: string, seq: number, sentAt: number, delayMs = 0): string {
  const head = JSON.stringify({ r: run, s: seq, t: Math.round(sentAt * 1000) / 1000, d: delayMs, p: '' });
  const pad = DATA_BYTES - head.length;
  if (pad < 0) throw new Error('stamp larger than the payload');
  return `${head.slice(0, -2)}${'x'.repeat(pad)}"}`;
}

export function readStamp(data: unknown): Stamp | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const v = JSON.parse(data) as Partial<Stamp>;
    return typeof v.r === 'string' && typeof v.s === 'number' && typeof v.t === 'number' ? { r: v.r, s: v.s, t: v.t, d: v.d ?? 0 } : undefined;
  } catch {
    return undefined;
  }
}

/** The publish request body every target takes: `{"name", "data", "delay"?}`. */
export function publishBody(data: string, delayMs?: number): string {
  return JSON.stringify(delayMs === undefined ? { name: 'bench', data } : { name: 'bench', data, delay: delayMs });
}

// ---- percentiles ------------------------------------------------------------------------

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const round = (v: number) => Math.round(v * 100) / 100;

/** Nearest-rank percentiles. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { count: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { count: n, min: round(sorted[0]!), mean: round(sum / n), p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), p999: round(at(0.999)), max: round(sorted[n - 1]!) };
}

// ---- generators -------------------------------------------------------------------------

export interface HttpTarget {
  /** http://127.0.0.1:port */
  origin: string;
  /** e.g. /v1/queues/<id>/messages */
  path: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  /** requests answered 2xx (counted after warm-up) */
  ok: number;
  errors: number;
  /** status code (or error code) → count, for the non-2xx */
  failures: Record<string, number>;
  durationMs: number;
  /** 2xx answers per second */
  rps: number;
  /** request latency, ms, of the 2xx answers */
  latency: Summary;
  /** sequence numbers answered 2xx (only when asked to keep them) */
  okSeqs?: number[];
}

function pool(target: HttpTarget, connections: number): Pool {
  return new Pool(target.origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

type Outcome = { ok: true; ms: number } | { ok: false; ms: number; why: string };

async function post(p: Pool, target: HttpTarget, body: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const res = await p.request({ path: target.path, method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body });
    await res.body.dump();
    const ms = performance.now() - started;
    return res.statusCode >= 200 && res.statusCode < 300 ? { ok: true, ms } : { ok: false, ms, why: String(res.statusCode) };
  } catch (err) {
    const e = err as { code?: string; name?: string };
    return { ok: false, ms: performance.now() - started, why: e.code ?? e.name ?? 'error' };
  }
}

export interface ClosedLoopOptions {
  connections: number;
  /** Run for this long (after the warm-up)... */
  durationMs?: number;
  /** ...or until this many requests were sent. */
  total?: number;
  warmupMs?: number;
  /** The body of request `seq` (seq counts from 0, warm-up included). */
  body: (seq: number) => string;
  keepSeqs?: boolean;
}

/** `connections` loops, each sending its next request when the last is answered. */
export async function closedLoop(target: HttpTarget, options: ClosedLoopOptions): Promise<LoadResult> {
  const p = pool(target, options.connections);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const okSeqs: number[] = [];
  let seq = 0;
  let ok = 0;
  let errors = 0;
  const measureStart = performance.now() + (options.warmupMs ?? 0);
  const endAt = options.durationMs !== undefined ? measureStart + options.durationMs : Infinity;
  const loop = async () => {
    for (;;) {
      const t = performance.now();
      if (t >= endAt) return;
      if (options.total !== undefined && seq >= options.total) return;
      const mine = seq++;
      const counted = t >= measureStart;
      const outcome = await post(p, target, options.body(mine));
      if (!counted) continue;
      if (outcome.ok) {
        ok++;
        latencies.push(outcome.ms);
        if (options.keepSeqs) okSeqs.push(mine);
      } else {
        errors++;
        failures[outcome.why] = (failures[outcome.why] ?? 0) + 1;
        if (errors > 1000 && ok === 0) throw new Error(`every request fails: ${JSON.stringify(failures)}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, loop));
  } finally {
    await p.close();
  }
  const durationMs = performance.now() - measureStart;
  return { ok, errors, failures, durationMs, rps: round((ok / durationMs) * 1000), latency: summarize(latencies), ...(options.keepSeqs ? { okSeqs } : {}) };
}

export interface OpenLoopOptions {
  /** messages per second */
  rate: number;
  durationMs: number;
  /** The body of message `seq`, stamped with the time it is sent. */
  body: (seq: number, sentAt: number) => string;
  connections?: number;
  /** Beyond this many unanswered requests, sends are skipped (counted) instead of queued. */
  maxInFlight?: number;
  /** Stops sending early when aborted. */
  signal?: AbortSignal;
}

export interface OpenLoopResult extends LoadResult {
  attempted: number;
  skipped: number;
  /** how far behind schedule the generator fell at worst, ms */
  maxLagMs: number;
  okSeqs: number[];
}

/**
 * Sends at a fixed rate, whatever the answers do (an overloaded target shows as latency, not
 * as a lower rate). A 1 ms timer sends whatever fell due since the last tick.
 */
export async function openLoop(target: HttpTarget, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const p = pool(target, options.connections ?? 64);
  const maxInFlight = options.maxInFlight ?? 10_000;
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const okSeqs: number[] = [];
  const sends: Promise<void>[] = [];
  let issued = 0;
  let inFlight = 0;
  let ok = 0;
  let errors = 0;
  let skipped = 0;
  let maxLagMs = 0;
  const start = performance.now();
  const fire = (seq: number) => {
    inFlight++;
    sends.push(
      post(p, target, options.body(seq, now())).then((outcome) => {
        inFlight--;
        if (outcome.ok) {
          ok++;
          latencies.push(outcome.ms);
          okSeqs.push(seq);
        } else {
          errors++;
          failures[outcome.why] = (failures[outcome.why] ?? 0) + 1;
        }
      }),
    );
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed * options.rate) / 1000) + 1);
      if (due > issued + 1) maxLagMs = Math.max(maxLagMs, ((due - issued - 1) * 1000) / options.rate);
      while (issued < due) {
        if (inFlight >= maxInFlight) skipped++;
        else fire(issued);
        issued++;
      }
      if (issued >= total || options.signal?.aborted) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  const sendingMs = performance.now() - start;
  await Promise.all(sends);
  await p.close();
  okSeqs.sort((a, b) => a - b);
  return {
    attempted: issued,
    skipped,
    maxLagMs: round(maxLagMs),
    ok,
    errors,
    failures,
    durationMs: sendingMs,
    rps: round((ok / sendingMs) * 1000),
    latency: summarize(latencies),
    okSeqs,
  };
}
