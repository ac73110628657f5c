import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { until } from '../helpers/listener.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startProcess, WORKING, type ServerProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

// Scale-out on one PostgreSQL: two API-only processes (`serve --no-worker`) take publishes,
// two `discue worker` processes deliver them (SKIP LOCKED leased claims, LISTEN/NOTIFY
// wake-ups). Without a crash every delivery arrives exactly once; after a worker is SIGKILLed
// mid-traffic the other one delivers everything at least once (the dead one's leases run out).

const ROOT = 'scale-out-root-key-0123456789';
const MESSAGES = 2_000;
const IN_FLIGHT = 32;
const KILL_AFTER_DELIVERIES = 500;
const PATHS = ['/a', '/b'] as const;

function discueEnv(databaseUrl: string, deliveryTimeout: string): Record<string, string> {
  return {
    DISCUE_DATABASE_URL: databaseUrl,
    DISCUE_ROOT_API_KEY: ROOT,
    DISCUE_ALLOW_PRIVATE_TARGETS: 'true',
    DISCUE_RATE_LIMIT_PER_MINUTE: '0',
    DISCUE_LIVENESS_INTERVAL: '1h',
    DISCUE_DELIVERY_TIMEOUT: deliveryTimeout,
    DISCUE_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms,1s,1s,1s,1s',
    DISCUE_POLL_INTERVAL: '1s',
    DISCUE_LOG_LEVEL: 'warn',
  };
}

/** Runs `discue worker` as its own process and waits until it says it delivers. */
const startWorker = (env: Record<string, string>) => startProcess(env, ['worker'], WORKING);

/**
 * A webhook receiver on 127.0.0.1 that counts, per path, how often each `webhook-id` arrived
 * and from which client port (to tell which worker process sent it). Lean enough for 4,000+
 * requests; keeps connections open long so the ports still belong to their process at the end.
 */
class Recorder {
  readonly seen = new Map<string, Map<string, number>>();
  /** remote port -> requests that came over it */
  readonly ports = new Map<number, number>();
  total = 0;
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0]!;
        const id = req.headers['webhook-id'];
        if (req.method === 'POST' && typeof id === 'string') {
          const ids = this.seen.get(path) ?? new Map<string, number>();
          this.seen.set(path, ids);
          ids.set(id, (ids.get(id) ?? 0) + 1);
          const port = req.socket.remotePort ?? 0;
          this.ports.set(port, (this.ports.get(port) ?? 0) + 1);
          this.total += 1;
          for (const w of this.waiters.filter((w) => this.total >= w.count)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.server.keepAliveTimeout = 120_000;
  }

  static async start(): Promise<Recorder> {
    const recorder = new Recorder();
    await new Promise<void>((resolve) => recorder.server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  ids(path: string): Map<string, number> {
    return this.seen.get(path) ?? new Map();
  }

  /** Resolves once `count` webhook requests arrived, over all paths. */
  reached(count: number): Promise<void> {
    if (this.total >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Local TCP ports of the sockets process `pid` holds (Linux /proc), or undefined elsewhere. */
function socketPortsOf(pid: number | undefined): Set<number> | undefined {
  if (pid === undefined) return undefined;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && inodes.has(fields[9]!)) ports.add(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Requests the recorder got over connections whose client port belongs to `pid`. */
function requestsFrom(recorder: Recorder, pid: number | undefined): number | undefined {
  const ports = socketPortsOf(pid);
  if (!ports) return undefined;
  let n = 0;
  for (const [port, count] of recorder.ports) if (ports.has(port)) n += count;
  return n;
}

interface Tenant {
  key: string;
  queueId: string;
  listenerIds: string[];
}

/** An api client, a queue and one listener per path of `recorder`, created through `api`. */
async function tenant(api: string, name: string, recorder: Recorder): Promise<Tenant> {
  const client = await call(api, 'POST', '/api_clients', { key: ROOT, body: { name } });
  assert.equal(client.status, 200, client.text);
  const key = client.body.api_key as string;
  const queue = await call(api, 'POST', '/queues', { key, body: { name: 'scale-q' } });
  assert.equal(queue.status, 200, queue.text);
  const queueId = queue.body.queue.id as string;
  const listenerIds: string[] = [];
  for (const path of PATHS) {
    const listener = await call(api, 'POST', `/queues/${queueId}/listeners`, {
      key,
      body: { name: `listener${path.replace('/', '-')}`, notify_url: `${recorder.url}${path}`, liveness_url: `${recorder.url}/alive` },
    });
    assert.equal(listener.status, 200, listener.text);
    listenerIds.push(listener.body.listener.id as string);
  }
  return { key, queueId, listenerIds };
}

/**
 * Publishes `count` messages, message i through apis[i % apis.length], `IN_FLIGHT` at a time.
 * Nothing is sent after `deadline` and requests still open then are aborted, so a stalled
 * store fails the test with counts instead of a bare timeout.
 */
async function publishAll(apis: string[], tn: Tenant, count: number, acked: string[], deadline: number): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const publisher = async () => {
    while (next < count) {
      const i = next++;
      const via = `#${i} via API ${(i % apis.length) + 1}`;
      if (Date.now() >= deadline) {
        failures.push(`${via}: not sent, publishing deadline passed`);
        continue;
      }
      try {
        const response = await fetch(`${apis[i % apis.length]}/queues/${tn.queueId}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': tn.key },
          body: JSON.stringify({ name: 'scale', data: `scale-message-${i}` }),
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
        const text = await response.text();
        if (response.status === 200) acked.push((JSON.parse(text) as { message: { id: string } }).message.id);
        else failures.push(`${via}: ${response.status} ${text.slice(0, 200)}`);
      } catch (err) {
        failures.push(`${via}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, publisher));
  return failures;
}

/** What the database's sessions are waiting on right now, for failure messages. */
async function waitsIn(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const { rows } = await client.query(
      `SELECT wait_event_type || '/' || wait_event || ': ' || regexp_replace(left(query, 50), '\\s+', ' ', 'g') AS what, count(*)::int AS n
       FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND wait_event IS NOT NULL
       GROUP BY 1 ORDER BY 2 DESC LIMIT 6`,
    );
    return rows.map((r) => `${r.n} x ${r.what}`).join('; ') || 'nothing';
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Acknowledged ids that have not reached `path` yet. */
const missingAt = (recorder: Recorder, path: string, acked: readonly string[]) => {
  const ids = recorder.ids(path);
  return acked.filter((id) => !ids.has(id));
};

/** Waits until every acknowledged id reached every path; fails naming what is missing. */
async function allDelivered(recorder: Recorder, acked: readonly string[], timeoutMs: number, explain: () => Promise<string>): Promise<void> {
  try {
    await until(async () => PATHS.every((p) => missingAt(recorder, p, acked).length === 0), 'every acknowledged message at each listener', timeoutMs);
  } catch (err) {
    const detail = PATHS.map((p) => {
      const missing = missingAt(recorder, p, acked);
      const dup = duplicates(recorder, p);
      return `${p}: ${missing.length} of ${acked.length} missing (e.g. ${missing.slice(0, 3).join(', ')}), ${dup.extra} duplicate arrivals so far`;
    });
    assert.fail(`${detail.join('; ')}; ${(err as Error).message}; ${await explain()}`);
  }
}

/** Waits until the store counts `count` acknowledged and no missed delivery per listener. */
async function storeAgrees(api: string, tn: Tenant, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const listenerId of tn.listenerIds) {
    let last: { acknowledged_count: number; missed_count: number } | undefined;
    try {
      await until(async () => {
        const r = await call(api, 'GET', `/queues/${tn.queueId}/listeners/${listenerId}`, { key: tn.key });
        assert.equal(r.status, 200, r.text);
        last = r.body.listener.messages as { acknowledged_count: number; missed_count: number };
        return last.acknowledged_count >= count;
      }, `listener ${listenerId} to count ${count} acknowledged deliveries`, Math.max(1_000, deadline - Date.now()));
    } catch (err) {
      assert.fail(`${(err as Error).message}; the store counts ${JSON.stringify(last)}`);
    }
    assert.equal(last!.acknowledged_count, count, `listener ${listenerId}: each delivery acknowledged once in the store`);
    assert.equal(last!.missed_count, 0);
  }
}

/** Milliseconds left before `deadline`, keeping `reserve` for what follows (at least 1 s). */
const remaining = (deadline: number, reserve = 0) => Math.max(1_000, deadline - Date.now() - reserve);

/** Extra arrivals (beyond the first) of the same id at the same path. */
function duplicates(recorder: Recorder, path: string): { ids: number; extra: number } {
  let ids = 0;
  let extra = 0;
  for (const n of recorder.ids(path).values()) {
    if (n > 1) {
      ids += 1;
      extra += n - 1;
    }
  }
  return { ids, extra };
}

/** Error lines (pino level 50+) a process printed. */
const errorLines = (p: ServerProcess) => p.output().split('\n').filter((l) => /"level":(50|60)/.test(l));

/** "worker 1: 3 x recording delivery outcomes failed (40P01 deadlock detected)" per process. */
function errorSummary(named: Record<string, ServerProcess>): string {
  const parts: string[] = [];
  for (const [name, p] of Object.entries(named)) {
    const kinds = new Map<string, number>();
    for (const line of errorLines(p)) {
      let kind = line.slice(0, 120);
      try {
        const entry = JSON.parse(line) as { msg?: string; err?: { code?: string; message?: string } };
        kind = `${entry.msg} (${entry.err?.code ?? ''} ${entry.err?.message ?? ''})`;
      } catch {
        // not JSON: keep the raw start
      }
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    if (kinds.size > 0) parts.push(`${name}: ${[...kinds].map(([k, n]) => `${n} x ${k}`).join(', ')}`);
  }
  return parts.join('; ') || 'none';
}

describe('scale-out: 2 API + 2 worker processes on one PostgreSQL', () => {
  let postgres: TestPostgres;
  let processes: ServerProcess[] = [];
  let recorders: Recorder[] = [];

  before(async () => {
    postgres = await startPostgres();
  });
  afterEach(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await Promise.all(recorders.map((r) => r.close()));
    processes = [];
    recorders = [];
  });
  after(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await Promise.all(recorders.map((r) => r.close()));
    await postgres?.stop();
  });

  /**
   * Starts the four processes on a fresh database, all at once (migrations run once under
   * PostgreSQL's advisory lock; the root key is an upsert); every one started is tracked. The
   * delivery timeout is long where no worker dies: an answer slowed past it by a loaded machine
   * is retried, which would count as a duplicate here.
   */
  async function topology(database: string, deliveryTimeout: string): Promise<{ apis: ServerProcess[]; workers: ServerProcess[]; logged: () => string; explain: () => Promise<string> }> {
    const env = discueEnv(await postgres.database(database), deliveryTimeout);
    const track = <T extends ServerProcess>(p: T) => (processes.push(p), p);
    const started = await Promise.allSettled([
      startProcess(env, ['serve', '--no-worker']).then(track),
      startProcess(env, ['serve', '--no-worker']).then(track),
      startWorker(env).then(track),
      startWorker(env).then(track),
    ]);
    const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) assert.fail(`${failed.length} of 4 processes failed to start: ${failed.map((f) => (f.reason as Error).message).join(' | ')}`);
    const [api1, api2, worker1, worker2] = started.map((s) => (s as PromiseFulfilledResult<ServerProcess>).value);
    const logged = () => errorSummary({ 'API 1': api1!, 'API 2': api2!, 'worker 1': worker1!, 'worker 2': worker2! });
    const explain = async () => `errors logged: ${logged()}; database sessions waiting: ${await waitsIn(env.DISCUE_DATABASE_URL!)}`;
    return { apis: [api1 as ServerProcess, api2 as ServerProcess], workers: [worker1!, worker2!], logged, explain };
  }

  it('delivers 2,000 messages to each of two listeners exactly once', { timeout: 38_000 }, async (t) => {
    const started = Date.now();
    const deadline = started + 36_000;
    const recorder = await Recorder.start();
    recorders.push(recorder);
    const { apis, workers, logged, explain } = await topology('scale_out', '10s');
    const upAt = Date.now();
    t.diagnostic(`4 processes up in ${upAt - started} ms`);
    const tn = await tenant(apis[0]!.url, 'scale.example.com', recorder);

    const acked: string[] = [];
    const failures = await publishAll(apis.map((a) => a.url), tn, MESSAGES, acked, deadline - 8_000);
    const publishedAt = Date.now();
    t.diagnostic(`${acked.length} publishes acknowledged in ${publishedAt - upAt} ms (incl. tenant setup); ${recorder.total} of ${2 * MESSAGES} deliveries arrived by then`);
    if (failures.length > 0) assert.fail(`${failures.length} publishes not answered 200, e.g. ${failures.slice(0, 3).join(' | ')}; ${await explain()}`);
    assert.equal(acked.length, MESSAGES);
    assert.equal(new Set(acked).size, MESSAGES, 'every publish got its own id');

    await allDelivered(recorder, acked, remaining(deadline, 3_000), explain);
    const deliveredAt = Date.now();
    const byWorker = workers.map((w) => requestsFrom(recorder, w.child.pid));
    const ackedSet = new Set(acked);
    for (const path of PATHS) {
      const unknown = [...recorder.ids(path).keys()].filter((id) => !ackedSet.has(id));
      assert.deepEqual(unknown, [], `${path} received only published messages`);
    }
    // Duplicates are counted once the store has every outcome: a send whose outcome was not
    // recorded is sent again when its lease ends, after every id has already arrived once.
    const unsettled = await storeAgrees(apis[1]!.url, tn, MESSAGES, remaining(deadline)).then(() => undefined, (err: unknown) => err);
    const dups = PATHS.map((p) => duplicates(recorder, p));
    t.diagnostic(
      `every id delivered ${deliveredAt - publishedAt} ms after the last publish; ${recorder.total} webhook requests; ` +
        `per worker ${byWorker.map((n) => n ?? '?').join(' / ')}; duplicates ${PATHS.map((p, i) => `${p}: ${dups[i]!.extra} extra on ${dups[i]!.ids} ids`).join(', ')}; ` +
        `errors logged: ${logged()}; total ${Date.now() - started} ms`,
    );
    if (unsettled) throw unsettled;
    for (const [i, path] of PATHS.entries()) {
      assert.equal(dups[i]!.extra, 0, `${path}: ${dups[i]!.extra} duplicate deliveries on ${dups[i]!.ids} ids without any crash`);
    }
    if (byWorker.every((n) => n !== undefined)) {
      for (const [i, n] of byWorker.entries()) assert.ok(n! > 0, `worker ${i + 1} delivered some messages (per worker: ${byWorker.join(' / ')})`);
    } else {
      t.diagnostic('no /proc: which worker delivered what is not checked');
    }
  });

  it('delivers every acknowledged message after one worker is SIGKILLed mid-traffic', { timeout: 48_000 }, async (t) => {
    const started = Date.now();
    const deadline = started + 46_000;
    const recorder = await Recorder.start();
    recorders.push(recorder);
    const { apis, workers, logged, explain } = await topology('scale_out_crash', '2s');
    t.diagnostic(`4 processes up in ${Date.now() - started} ms`);
    const tn = await tenant(apis[0]!.url, 'scale-crash.example.com', recorder);
    const [victim, survivor] = workers as [ServerProcess, ServerProcess];

    const acked: string[] = [];
    let publishing = true;
    let atKill = { at: 0, requests: 0, published: 0, fromVictim: undefined as number | undefined, stillPublishing: false };
    const killing = recorder.reached(KILL_AFTER_DELIVERIES).then(async () => {
      // Which requests came from the victim: read its sockets while it still has them.
      atKill = { at: Date.now(), requests: recorder.total, published: acked.length, fromVictim: requestsFrom(recorder, victim.child.pid), stillPublishing: publishing };
      return victim.stop('SIGKILL');
    });
    const failures = await publishAll(apis.map((a) => a.url), tn, MESSAGES, acked, deadline - 20_000);
    publishing = false;
    const publishedAt = Date.now();
    if (failures.length > 0) assert.fail(`${failures.length} publishes not answered 200, e.g. ${failures.slice(0, 3).join(' | ')}; ${await explain()}`);
    assert.equal(acked.length, MESSAGES);

    // 4,000 arrivals pass the kill threshold, so the kill has happened once this returns.
    await allDelivered(recorder, acked, remaining(deadline, 3_000), explain);
    const deliveredAt = Date.now();
    assert.equal(await killing, null, 'the victim worker died of SIGKILL');
    assert.equal(survivor.child.exitCode, null, 'the surviving worker is still running');
    assert.equal(survivor.child.signalCode, null);

    // Duplicates are counted once the store has every outcome: the dead worker's sends are
    // sent again only when their leases end, after every id has already arrived once.
    const unsettled = await storeAgrees(apis[1]!.url, tn, MESSAGES, remaining(deadline)).then(() => undefined, (err: unknown) => err);
    const dups = PATHS.map((p) => duplicates(recorder, p));
    t.diagnostic(
      `killed worker 1 ${atKill.at - started} ms in, at ${atKill.requests} webhook requests (${atKill.fromVictim ?? '?'} of them from it), ` +
        `${atKill.published} publishes acknowledged so far${atKill.stillPublishing ? ', publishing still running' : ', publishing already done'}; ` +
        `all ${MESSAGES} published ${publishedAt - started} ms in; every id delivered ${deliveredAt - atKill.at} ms after the kill; ` +
        `duplicates (at-least-once): ${PATHS.map((p, i) => `${p}: ${dups[i]!.extra} extra on ${dups[i]!.ids} ids`).join(', ')}; ` +
        `errors logged: ${logged()}; total ${Date.now() - started} ms`,
    );
    if (unsettled) throw unsettled;
  });
});
