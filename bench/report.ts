/**
 * From the scenarios' figures to the summary rows (with the targets the issue set and whether
 * they are met), the Markdown table, and the JSON file in bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Summary } from './load.js';
import { ROOT } from './processes.js';
import { PROBE_RATE, type BacklogResults } from './scenarios/backlog.js';
import type { E2eResult } from './scenarios/context.js';
import type { DelayedResults } from './scenarios/delayed.js';
import type { E2eResults } from './scenarios/e2e.js';
import type { FanoutResults } from './scenarios/fanout.js';
import type { PublishResults } from './scenarios/publish.js';
import type { ScaleResults } from './scenarios/scale.js';

import type { Machine } from './machine.js';

export interface BenchResults {
  date: string;
  quick: boolean;
  store: string;
  /** the commit measured, and whether src/ had changes not in it */
  code: { commit: string | null; srcChanged: boolean | null };
  machine: Machine;
  /** 1-minute load average after each scenario (other work on the machine skews the figures) */
  loadAverageAfter: Record<string, number>;
  /** wall time of the whole bench, s */
  durationS?: number;
  scenarios: {
    publish?: PublishResults;
    e2e?: E2eResults;
    fanout?: FanoutResults;
    backlog?: BacklogResults;
    delayed?: DelayedResults;
    scale?: ScaleResults;
  };
  errors: string[];
  rows?: Row[];
}

export type System = 'discue' | 'ceiling' | 'bullmq' | 'pgboss';

export interface Row {
  scenario: string;
  metric: string;
  /** whether a larger figure is the better one */
  higherIsBetter: boolean;
  values: Partial<Record<System, number>>;
  /** discue ÷ each other system */
  ratios: Partial<Record<Exclude<System, 'discue'>, number>>;
  /** discue's latencies (and what else the row needs said) */
  detail: string;
  target?: string;
  met?: boolean;
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const ms = (s: Summary) => `p50 ${fmt(s.p50)} / p99 ${fmt(s.p99)} ms`;

export function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function row(scenario: string, metric: string, higherIsBetter: boolean, values: Row['values'], detail: string, target?: string, met?: boolean): Row {
  const ratios: Row['ratios'] = {};
  const ours = values.discue;
  for (const other of ['ceiling', 'bullmq', 'pgboss'] as const) {
    const theirs = values[other];
    if (ours !== undefined && theirs !== undefined && theirs !== 0 && !Number.isNaN(ours) && !Number.isNaN(theirs)) ratios[other] = r2(ours / theirs);
  }
  return { scenario, metric, higherIsBetter, values, ratios, detail, ...(target ? { target, met } : {}) };
}

/** "lost N", or, when the time cap cut the wait short, how many had not arrived yet. */
const lostText = (lost: number, ended: string) => (ended === 'cap' && lost > 0 ? `${lost.toLocaleString('en-US')} not delivered yet when the time cap ended the wait` : `lost ${lost}`);

const e2eDetail = (r: E2eResult) =>
  `${ms(r.delivered.latency)}, max ${fmt(r.delivered.latency.max)} ms; ${fmt(r.delivered.perSecond)} deliveries/s; ${lostText(r.lost, r.waitEnded)}` +
  (r.publish.errors ? `; ${r.publish.errors} publish errors` : '') +
  (r.publish.skipped ? `; ${r.publish.skipped} not sent (10,000 unanswered)` : '');

export function buildRows(results: BenchResults): Row[] {
  const rows: Row[] = [];
  const { publish, e2e, fanout, backlog, delayed, scale } = results.scenarios;

  if (publish) {
    for (const [key, label] of [
      ['noListener', 'publish, no listener'],
      ['oneListener', 'publish, one listener'],
    ] as const) {
      const ours = publish.discue[key];
      const values = { discue: ours?.rps, ceiling: publish.ceiling?.rps, bullmq: publish.bullmq?.[key]?.rps, pgboss: publish.pgboss?.[key]?.rps };
      const peers = [values.bullmq, values.pgboss].filter((v): v is number => v !== undefined);
      const met =
        values.discue !== undefined &&
        values.ceiling !== undefined &&
        values.discue >= 0.5 * values.ceiling &&
        peers.every((p) => values.discue! >= 1.5 * p);
      const target = `≥ 0.5× ceiling, ≥ 1.5× each peer${peers.length < 2 ? ` (${peers.length ? 'one peer' : 'no peers'} run)` : ''}`;
      const detail = ours ? `${ms(ours.latency)}${ours.errors ? `; ${ours.errors} errors` : ''}` : 'failed';
      rows.push(row(label, 'req/s', true, values, detail, target, met));
    }
  }

  if (e2e) {
    for (const rate of e2e.rates) {
      const ours = e2e.discue.find((r) => r.rate === rate);
      const ceiling = e2e.ceiling.find((r) => r.rate === rate);
      const peer = (r: E2eResult | undefined) => (r && r.rate === rate ? r.delivered.latency.p99 : undefined);
      const values = { discue: ours?.delivered.latency.p99, ceiling: ceiling?.delivered.latency.p99, bullmq: peer(e2e.bullmq), pgboss: peer(e2e.pgboss) };
      const lossless = ours !== undefined && ours.lost === 0 && ours.publish.errors === 0;
      const target = rate === 1_000 ? 'p99 < 10 ms, lost 0' : 'lost 0';
      const met = rate === 1_000 ? lossless && ours!.delivered.latency.p99 < 10 : lossless;
      rows.push(row(`end to end, ${rate.toLocaleString('en-US')} msg/s`, 'latency p99 ms', false, values, ours ? e2eDetail(ours) : 'failed', target, met));
    }
  }

  if (fanout) {
    const ours = fanout.discue;
    const values = { discue: ours?.delivered.perSecond, ceiling: fanout.ceiling?.delivered.perSecond };
    const met = ours !== undefined && values.ceiling !== undefined && ours.lost === 0 && ours.delivered.perSecond >= 0.3 * values.ceiling;
    const detail = ours ? `${ms(ours.delivered.latency)}; ${fmt(ours.delivered.distinct)} deliveries; ${lostText(ours.lost, ours.waitEnded)}` : 'failed';
    rows.push(row(`fan-out, ${fanout.listeners} listeners × ${fanout.messages.toLocaleString('en-US')}`, 'deliveries/s', true, values, detail, '≥ 0.3× ceiling, lost 0', met));
  }

  if (backlog) {
    const drain = backlog.drain;
    const values = { discue: drain?.delivered.perSecond, ceiling: backlog.ceiling?.delivered.perSecond };
    const met = drain !== undefined && values.ceiling !== undefined && drain.lost === 0 && drain.delivered.perSecond >= 0.3 * values.ceiling;
    const detail = drain
      ? `first delivery ${fmt(drain.resumeMs ?? NaN)} ms after the listener started, last after ${fmt((drain.totalMs ?? NaN) / 1000)} s; ${lostText(drain.lost, drain.waitEnded)}`
      : 'failed';
    rows.push(row(`backlog drain, ${backlog.messages.toLocaleString('en-US')} pending`, 'deliveries/s', true, values, detail, '≥ 0.3× ceiling, lost 0', met));
    const slow = backlog.slowdown;
    rows.push(
      row(
        'backlog: publish p99 during the drain',
        '× before',
        false,
        { discue: slow, ceiling: backlog.ceiling?.slowdown },
        backlog.before && backlog.during ? `${fmt(backlog.before.latency.p99)} → ${fmt(backlog.during.latency.p99)} ms (max ${fmt(backlog.during.latency.max)} ms) at ${PROBE_RATE} msg/s` : 'failed',
        '≤ 2×',
        slow !== undefined && slow <= 2,
      ),
    );
    rows.push(row('backlog: discue peak RSS', 'MiB', false, { discue: backlog.peakRssMb }, backlog.build ? `backlog published at ${fmt(backlog.build.rps)} msg/s` : ''));
  }

  if (delayed) {
    for (const load of ['light', 'heavy'] as const) {
      const r = delayed[load];
      const rate = load === 'light' ? 50 : 1_000;
      const ok = r !== undefined && r.lost === 0 && r.delivered.latency.p99 < 50;
      rows.push(row(`delayed 0.5–1.5 s, ${load} (${rate.toLocaleString('en-US')} msg/s)`, 'lateness p99 ms', false, { discue: r?.delivered.latency.p99 }, r ? e2eDetail(r) : 'failed', 'p99 < 50 ms, lost 0', ok));
    }
  }
  if (scale) {
    const detail = `${fmt(scale.oneProcess)} req/s with 1 API process, ${fmt(scale.twoProcesses)} with 2 (store ${scale.store})`;
    rows.push(row('publish, 1 → 2 API processes', '× throughput', true, { discue: scale.growth }, detail));
  }
  return rows;
}

export function markdown(results: BenchResults, rows: Row[]): string {
  const m = results.machine;
  const head = [
    `## discue bench — ${results.date}${results.quick ? ' (quick)' : ''}`,
    '',
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform} ${m.release}; discue store: ${results.store}` +
      (results.durationS !== undefined ? `; ran ${Math.round(results.durationS)} s` : '') +
      (results.code.commit ? `; commit ${results.code.commit.slice(0, 10)}${results.code.srcChanged ? ' + uncommitted src/ changes' : ''}` : ''),
    `Load average at start ${m.loadAverage}; the disk allows ${fmt(m.sqliteCommitsPerSecond.full)} SQLite commits/s with synchronous=FULL ` +
      `(${fmt(m.sqliteCommitsPerSecond.normal)} with NORMAL).` +
      (m.loadAverage > m.cpus / 2 ? ' **The machine was busy with other work: figures are noisy.**' : ''),
    '',
    '| scenario | metric | discue | ceiling | bullmq | pg-boss | ours÷ceiling | ours÷bullmq | ours÷pg-boss | discue detail | target | met |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|---|',
  ];
  const ratio = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)}×`);
  const lines = rows.map((r) =>
    [
      r.scenario,
      `${r.metric} ${r.higherIsBetter ? '↑' : '↓'}`,
      fmt(r.values.discue),
      fmt(r.values.ceiling),
      fmt(r.values.bullmq),
      fmt(r.values.pgboss),
      ratio(r.ratios.ceiling),
      ratio(r.ratios.bullmq),
      ratio(r.ratios.pgboss),
      r.detail,
      r.target ?? '',
      r.target === undefined ? '' : r.met ? 'met' : '**not met**',
    ].join(' | '),
  );
  const errors = results.errors.length ? ['', 'Errors:', ...results.errors.map((e) => `- ${e}`)] : [];
  return [...head, ...lines.map((l) => `| ${l} |`), ...errors, ''].join('\n');
}

/** Writes bench/results/<date>.json (every figure) and .md (the table); answers the JSON path. */
export function writeResults(results: BenchResults, table: string): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stem = results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${stem}${results.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(file.replace(/\.json$/, '.md'), table);
  return file;
}
