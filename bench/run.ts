/**
 * `npm run bench [-- --quick] [-- --only=publish,e2e,fanout,backlog,delayed] [-- --no-peers]
 *  [-- --store=sqlite|postgres]`
 *
 * Starts everything the scenarios need (discue, the listener, the ceiling, redis-server and
 * PostgreSQL for the peers), runs the scenarios one after the other, writes every figure to
 * bench/results/<date>.json and prints the summary table. Every child process is killed at the
 * end, whatever happens. See bench/README.md.
 */
import { loadavg } from 'node:os';
import { relative } from 'node:path';
import { CeilingHandle } from './ceiling.js';
import { postgresStore, sqliteStore, type DiscueStore } from './discue.js';
import { startPostgres, startRedis, type Server } from './infra.js';
import { ListenerHandle } from './listener-process.js';
import { codeInfo, machineInfo } from './machine.js';
import { installCleanup, killAll, ROOT } from './processes.js';
import { buildRows, markdown, writeResults, type BenchResults } from './report.js';
import { backlogScenario } from './scenarios/backlog.js';
import type { Context } from './scenarios/context.js';
import { delayedScenario } from './scenarios/delayed.js';
import { e2eScenario } from './scenarios/e2e.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { publishScenario } from './scenarios/publish.js';
import { scaleScenario } from './scenarios/scale.js';

const SCENARIOS = ['publish', 'e2e', 'fanout', 'backlog', 'delayed', 'scale'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  quick: boolean;
  only: Scenario[];
  peers: boolean;
  store: 'sqlite' | 'postgres';
}

const USAGE = `usage: npm run bench -- [--quick] [--only=${SCENARIOS.join(',')}] [--no-peers] [--store=sqlite|postgres]`;

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, only: [...SCENARIOS], peers: true, store: 'sqlite' };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-peers') options.peers = false;
    else if (arg.startsWith('--only=')) {
      const wanted = arg.slice('--only='.length).split(',').filter(Boolean);
      const unknown = wanted.filter((w) => !(SCENARIOS as readonly string[]).includes(w));
      if (unknown.length || wanted.length === 0) throw new Error(`unknown scenario ${unknown.join(', ')}\n${USAGE}`);
      options.only = wanted as Scenario[];
    } else if (arg === '--store=sqlite' || arg === '--store=postgres') options.store = arg.slice('--store='.length) as Options['store'];
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return options;
}

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  // Safety net well past the budgets (quick < 2 min, full < 15 min).
  installCleanup(options.quick ? 5 * 60_000 : 25 * 60_000);
  const machine = machineInfo();
  const results: BenchResults = { date: new Date().toISOString(), quick: options.quick, store: options.store, code: codeInfo(ROOT), machine, loadAverageAfter: {}, scenarios: {}, errors: [] };
  log(`discue bench${options.quick ? ' (quick)' : ''}: ${options.only.join(', ')}; store ${options.store}; peers ${options.peers ? 'on' : 'off'}`);
  log(`${machine.cpus} CPUs, Node ${machine.node}, load average ${machine.loadAverage}, SQLite commits/s: ${machine.sqliteCommitsPerSecond.full} (FULL), ${machine.sqliteCommitsPerSecond.normal} (NORMAL)`);
  if (machine.loadAverage > machine.cpus / 2) log('warning: the machine is busy with other work; the figures will be noisy');

  // Waits for deliveries are cut short past this point, so that a slow machine does not overrun.
  const budgetEnd = started + (options.quick ? 105_000 : 13.5 * 60_000);
  const needPeers = options.peers && options.only.some((s) => s === 'publish' || s === 'e2e');
  const stops: (() => Promise<void>)[] = [];
  try {
    const own = Promise.all([ListenerHandle.start(), CeilingHandle.start()]);
    let redis: Server | undefined;
    let postgres: (Server & { database(name: string): Promise<string> }) | undefined;
    const infra: Promise<void>[] = [];
    if (needPeers) {
      infra.push(
        startRedis().then(
          (s) => {
            redis = s;
            stops.push(() => s.stop());
            log(`redis-server on ${s.url} (AOF, fsync every second)`);
          },
          (err) => void results.errors.push(`redis-server: ${(err as Error).message}`),
        ),
      );
    }
    if (needPeers || options.store === 'postgres') {
      infra.push(
        startPostgres().then(
          (s) => {
            postgres = s;
            stops.push(() => s.stop());
            log(`PostgreSQL on ${s.host}:${s.port}`);
          },
          (err) => void results.errors.push(`PostgreSQL: ${(err as Error).message}`),
        ),
      );
    }
    const [listener, ceiling] = await own;
    stops.push(() => listener.stop(), () => ceiling.stop());
    await Promise.all(infra);
    for (const e of results.errors) log(e);

    let store: DiscueStore = sqliteStore;
    if (options.store === 'postgres') {
      if (!postgres) throw new Error('--store=postgres needs PostgreSQL, which did not start');
      store = postgresStore(postgres.database);
    }
    const ctx: Context = {
      quick: options.quick,
      store,
      listener,
      ceiling,
      redis: needPeers ? redis : undefined,
      postgres: needPeers ? postgres : undefined,
      log,
      capWait: (ms) => Math.min(ms, Math.max(3_000, budgetEnd - performance.now())),
    };

    const runners: Record<Scenario, () => Promise<void>> = {
      publish: async () => void (results.scenarios.publish = await publishScenario(ctx)),
      e2e: async () => void (results.scenarios.e2e = await e2eScenario(ctx)),
      fanout: async () => void (results.scenarios.fanout = await fanoutScenario(ctx)),
      backlog: async () => void (results.scenarios.backlog = await backlogScenario(ctx)),
      delayed: async () => void (results.scenarios.delayed = await delayedScenario(ctx)),
      scale: async () => void (results.scenarios.scale = await scaleScenario(ctx)),
    };
    for (const scenario of options.only) {
      log(`— ${scenario}`);
      try {
        await runners[scenario]();
        results.loadAverageAfter[scenario] = Math.round(loadavg()[0]! * 100) / 100;
        const errors = (results.scenarios[scenario] as { errors?: string[] } | undefined)?.errors ?? [];
        results.errors.push(...errors.map((e) => `${scenario}: ${e}`));
      } catch (err) {
        results.errors.push(`${scenario}: ${(err as Error).message}`);
        log(`${scenario} failed: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`stopping: ${(err as Error).message}`));
    killAll();
  }

  results.durationS = Math.round((performance.now() - started) / 100) / 10;
  const rows = buildRows(results);
  results.rows = rows;
  const table = markdown(results, rows);
  const file = writeResults(results, table);
  log(`figures written to ${relative(ROOT, file)} (and .md)`);
  process.stdout.write(`\n${table}`);
  return results.errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    killAll();
    process.exit(2);
  },
);
