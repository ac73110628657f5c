import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestListener, until } from '../helpers/listener.js';
import { startProcess, WORKING, type ServerProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

// At-least-once across a crash: `discue serve` is SIGKILLed while publishers are sending and
// while some deliveries are in flight; a second process on the same data directory must
// deliver every message whose publish was answered 200. Real processes, real HTTP, real SQLite.

const ROOT = 'crash-test-root-key-0123456789';
const PUBLISHERS = 8;
const ACKED_BEFORE_KILL = 300;

function discueEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DISCUE_DATA_DIR: dataDir,
    DISCUE_ROOT_API_KEY: ROOT,
    DISCUE_ALLOW_PRIVATE_TARGETS: 'true',
    DISCUE_RATE_LIMIT_PER_MINUTE: '0',
    DISCUE_DELIVERY_TIMEOUT: '1s',
    DISCUE_RETRY_SCHEDULE: '200ms,200ms,200ms,200ms,200ms',
    DISCUE_LIVENESS_INTERVAL: '1h',
    ...extra,
  };
}

/** Runs `discue worker` as its own process and waits until it says it delivers. */
const startWorker = (env: Record<string, string>) => startProcess(env, ['worker'], WORKING);

interface Tenant {
  key: string;
  queueId: string;
  listenerId: string;
}

/** An api client, a queue and one listener on `notifyUrl`, created through the API. */
async function tenant(url: string, name: string, notifyUrl: string, livenessUrl: string): Promise<Tenant> {
  const client = await call(url, 'POST', '/api_clients', { key: ROOT, body: { name } });
  assert.equal(client.status, 200, client.text);
  const key = client.body.api_key as string;
  const queue = await call(url, 'POST', '/queues', { key, body: { name: 'crash-q' } });
  assert.equal(queue.status, 200, queue.text);
  const queueId = queue.body.queue.id as string;
  const listener = await call(url, 'POST', `/queues/${queueId}/listeners`, {
    key,
    body: { name: 'crash-listener', notify_url: notifyUrl, liveness_url: livenessUrl },
  });
  assert.equal(listener.status, 200, listener.text);
  return { key, queueId, listenerId: listener.body.listener.id as string };
}

/** Ids of every message stored in the queue, page by page. */
async function storedIds(url: string, t: Tenant): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let page = 1; ; page++) {
    const r = await call(url, 'GET', `/queues/${t.queueId}/messages?per_page=100&page=${page}`, { key: t.key });
    assert.equal(r.status, 200, r.text);
    for (const m of r.body.messages as { id: string }[]) ids.add(m.id);
    if (!r.body._links?.next) return ids;
  }
}

const listenerView = (url: string, t: Tenant) =>
  call(url, 'GET', `/queues/${t.queueId}/listeners/${t.listenerId}`, { key: t.key }).then((r) => {
    assert.equal(r.status, 200, r.text);
    return r.body.listener as { messages: { acknowledged_count: number; missed_count: number; missed: string[] } };
  });

describe('delivery across a crash of discue serve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'discue-crash-'));
  const processes: ServerProcess[] = [];
  let listener: TestListener;
  // Before the kill every 5th answer is held forever, so those sends are mid-flight at the kill.
  let holding = true;
  const never = new Promise<void>(() => {});
  /** webhook-id -> how many requests carrying it were answered 200 / arrived at all. */
  const answered = new Map<string, number>();
  const arrived = new Map<string, number>();
  /** webhook-id -> the message data it carried (checked against what was published). */
  const carried = new Map<string, string>();
  let heldCount = 0;

  before(async () => {
    listener = await TestListener.start({
      '/hook': (request, index) => {
        const id = String(request.headers['webhook-id']);
        arrived.set(id, (arrived.get(id) ?? 0) + 1);
        carried.set(id, (JSON.parse(request.body) as { message: { data: string } }).message.data);
        if (holding && index % 5 === 4) {
          heldCount += 1;
          return { status: 200, after: never };
        }
        answered.set(id, (answered.get(id) ?? 0) + 1);
        return { status: 200 };
      },
    });
  });
  after(async () => {
    for (const p of processes) await p.stop('SIGKILL');
    await listener?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers every acknowledged publish at least once after a SIGKILL mid-traffic', { timeout: 50_000 }, async (t) => {
    const started = Date.now();
    const env = discueEnv(dataDir);
    const first = await startProcess(env);
    processes.push(first);
    const tn = await tenant(first.url, 'crash.example.com', `${listener.url}/hook`, `${listener.url}/alive`);

    const acked = new Map<string, string>(); // message id -> data
    const refusedStatuses: number[] = [];
    let failures = 0;
    let stopPublishing = false;
    let reached!: () => void;
    const enough = new Promise<void>((resolve) => (reached = resolve));
    const publisher = async (p: number) => {
      for (let i = 0; !stopPublishing; i++) {
        const data = `publisher-${p}-message-${i}`;
        try {
          const r = await call(first.url, 'POST', `/queues/${tn.queueId}/messages`, { key: tn.key, body: { name: 'crash', data } });
          if (r.status === 200) {
            acked.set(r.body.message.id as string, data);
            if (acked.size >= ACKED_BEFORE_KILL) reached();
          } else {
            refusedStatuses.push(r.status);
          }
        } catch {
          failures += 1; // the kill cut the request: not acknowledged, so not owed
        }
      }
    };
    const loops = Array.from({ length: PUBLISHERS }, (_, p) => publisher(p));

    await enough;
    // Kill while the publishers keep sending; they stop once their requests start failing.
    const killedAt = Date.now();
    const heldAtKill = heldCount;
    const requestsAtKill = listener.to('/hook').length;
    assert.equal(await first.stop('SIGKILL'), null, 'the first server died of the signal');
    stopPublishing = true;
    await Promise.all(loops);
    const ackedCount = acked.size;
    t.diagnostic(
      `killed after ${killedAt - started} ms: ${ackedCount} publishes acknowledged (${ackedCount - ACKED_BEFORE_KILL} after the threshold), ` +
        `${failures} cut, ${refusedStatuses.length} non-200 (${[...new Set(refusedStatuses)].join(',') || 'none'}); ` +
        `${requestsAtKill} deliveries had reached the listener, ${heldAtKill} of them held unanswered, ${answered.size} distinct ids answered`,
    );

    holding = false;
    const second = await startProcess(env);
    processes.push(second);

    const missing = () => [...acked.keys()].filter((id) => !answered.has(id));
    try {
      await until(async () => missing().length === 0, 'every acknowledged message to be delivered', 30_000);
    } catch (err) {
      const lost = missing();
      const view = await listenerView(second.url, tn);
      assert.fail(
        `${lost.length} of ${acked.size} acknowledged messages never answered by the listener (e.g. ${lost.slice(0, 5).join(', ')}); ` +
          `${lost.filter((id) => arrived.has(id)).length} of those arrived only as held requests; ` +
          `listener view: ${JSON.stringify(view.messages)}; ${(err as Error).message}`,
      );
    }
    const deliveredAt = Date.now();
    for (const [id, data] of acked) assert.equal(carried.get(id), data, `message ${id} carried the data it was published with`);

    // Every stored message (the acknowledged ones and any committed whose 200 the kill cut)
    // is delivered, and the store ends with all of them acknowledged and none missed.
    const stored = await storedIds(second.url, tn);
    for (const id of acked.keys()) assert.ok(stored.has(id), `acknowledged message ${id} is stored`);
    await until(async () => [...stored].every((id) => answered.has(id)), 'every stored message to be delivered', 15_000);
    const view = await until(async () => {
      const v = await listenerView(second.url, tn);
      return v.messages.acknowledged_count >= stored.size && v;
    }, 'every delivery to be recorded as acknowledged', 15_000);
    assert.equal(view.messages.acknowledged_count, stored.size, 'each delivery acknowledged once in the store');
    assert.equal(view.messages.missed_count, 0);

    const duplicateIds = [...answered].filter(([, n]) => n > 1);
    const extraAnswers = duplicateIds.reduce((sum, [, n]) => sum + n - 1, 0);
    const extraArrivals = [...arrived.values()].reduce((sum, n) => sum + n - 1, 0);
    const unknown = [...answered.keys()].filter((id) => !stored.has(id));
    assert.deepEqual(unknown, [], 'the listener only received messages that are stored');
    t.diagnostic(
      `${acked.size} acknowledged, ${stored.size} stored (${stored.size - acked.size} committed without a 200 reaching the publisher); ` +
        `all delivered ${deliveredAt - killedAt} ms after the kill; duplicates: ${duplicateIds.length} messages answered more than once ` +
        `(${extraAnswers} extra answered deliveries; ${extraArrivals} extra arrivals counting held/timed-out sends); total ${Date.now() - started} ms`,
    );
  });
});

describe('discue worker beside discue serve --no-worker', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'discue-worker-'));
  let listener: TestListener;
  let api: ServerProcess | undefined;
  let worker: ServerProcess | undefined;

  before(async () => {
    listener = await TestListener.start();
  });
  after(async () => {
    await api?.stop('SIGKILL');
    await worker?.stop('SIGKILL');
    await listener?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers what the API process stores, from a separate worker process', { timeout: 30_000 }, async (t) => {
    const started = Date.now();
    const env = discueEnv(dataDir, { DISCUE_POLL_INTERVAL: '100ms' });
    const apiProcess = await startProcess(env, ['serve', '--no-worker']);
    api = apiProcess;
    const workerProcess = await startWorker(env);
    worker = workerProcess;
    const url = apiProcess.url;
    const tn = await tenant(url, 'worker.example.com', `${listener.url}/hook`, `${listener.url}/alive`);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await call(url, 'POST', `/queues/${tn.queueId}/messages`, { key: tn.key, body: { name: 'w', data: `worker-message-${i}` } });
      assert.equal(r.status, 200, r.text);
      ids.push(r.body.message.id as string);
    }
    const delivered = () => new Set(listener.to('/hook').map((r) => String(r.headers['webhook-id'])));
    await until(async () => ids.every((id) => delivered().has(id)), 'all 20 messages to reach the listener', 15_000);
    const view = await until(async () => {
      const v = await listenerView(url, tn);
      return v.messages.acknowledged_count === 20 && v;
    }, 'the worker\'s outcomes to be visible through the API process', 10_000);
    assert.equal(view.messages.missed_count, 0);
    assert.equal(listener.to('/hook').length, 20, 'each message sent once');
    assert.equal(await workerProcess.stop('SIGTERM'), 0, 'the worker shuts down cleanly on SIGTERM');
    t.diagnostic(`20 messages delivered by the worker process in ${Date.now() - started} ms (process start included)`);
  });
});
