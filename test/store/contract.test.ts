import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuplicateError, NotFoundError, QuotaExceededError, RevisionConflictError } from '../../src/store/errors.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { ApiClient, ApiKey, Listener, Message, Queue, Schedule, Store, UsageEvent } from '../../src/store/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

// One suite, every store: what a route, worker or scheduler may rely on, whichever store it has.

const T = 1_800_000_000_000;
let seq = 0;
const id = (prefix: string) => `${prefix}-${++seq}`;

const event = (clientId: string, type: UsageEvent['type'], at = T, refs: Partial<UsageEvent> = {}): UsageEvent => ({ id: id('ev'), client_id: clientId, type, stored_at: at, ...refs });
const client = (name: string): ApiClient => ({ id: id('c'), name, is_root: false, status: 'active', quotas: {}, created_at: T, updated_at: T, revision: 1 });
const key = (clientId: string, hash = id('hash')): ApiKey => ({
  id: id('k'), client_id: clientId, name: 'key', key_prefix: 'abc', key_hash: hash, status: 'enabled',
  scopes: [{ resource: 'queues', access: 'write', targets: ['*'] }], created_at: T, updated_at: T, last_used_at: null, revision: 1,
});
const queue = (clientId: string, name = id('q')): Queue => ({ id: id('q'), client_id: clientId, name, schema: null, schema_id: null, created_at: T, updated_at: T, revision: 1 });
const listener = (q: Queue, name = id('l')): Listener => ({
  id: id('l'), client_id: q.client_id, queue_id: q.id, name, notify_url: 'http://127.0.0.1:9/n', liveness_url: 'http://127.0.0.1:9/l', secret: 'whsec_AAAA',
  liveness_state: 'stable', liveness_success_count: 0, liveness_failure_count: 0, acknowledged_count: 0, missed_count: 0,
  previous_secret: null, previous_secret_until: null, liveness_streak: 0, next_probe_at: T, created_at: T, updated_at: T, revision: 1,
});
const message = (q: Queue, at = T, deliverAt: number | null = null): Message => ({
  id: id('m'), client_id: q.client_id, queue_id: q.id, name: 'm', data: '{"a":1}', deliver_at: deliverAt, schedule_id: null, created_at: at, updated_at: at, revision: 1,
});
const schedule = (q: Queue, next: number): Schedule => ({
  id: id('s'), client_id: q.client_id, queue_id: q.id, name: id('sched'), cron: '* * * * *', timezone: 'UTC', data: 'tick', message_name: null,
  status: 'enabled', next_run_at: next, last_run_at: null, run_count: 0, created_at: T, updated_at: T, revision: 1,
});

interface Kind {
  name: string;
  open(): Promise<{ store: Store; reopen: () => Promise<Store>; cleanup: () => Promise<void> }>;
}

let postgres: TestPostgres | undefined;
const kinds: Kind[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'discue-contract-'));
      return { store: openSqliteStore(dir), reopen: async () => openSqliteStore(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      postgres ??= await startPostgres();
      const url = await postgres.database(`contract_${process.pid}_${++seq}`);
      const options = { url, poolSize: 5, statementTimeoutMs: 10_000 };
      return { store: await openPostgresStore(options), reopen: () => openPostgresStore(options), cleanup: async () => undefined };
    },
  },
];

after(async () => {
  await postgres?.stop();
});

for (const kind of kinds) {
  describe(`store contract: ${kind.name}`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let cleanup: () => Promise<void>;
    let c: ApiClient;

    before(async () => {
      ({ store, reopen, cleanup } = await kind.open());
      c = client(id('tenant.example.com'));
      await store.createClient(c, key(c.id), event(c.id, 'api_key_added'));
    });
    after(async () => {
      await store.close();
      await cleanup();
    });

    /** A new queue of the tenant's with one listener. */
    const queueWithListener = async (): Promise<{ q: Queue; l: Listener }> => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      const l = listener(q);
      await store.createListener(l, event(c.id, 'listener_added'), 100);
      return { q, l };
    };

    it('tenancy: one root client, unique names, revisions, cascading deletes', async () => {
      const root = await store.rootClient();
      assert.equal(root.is_root, true);
      assert.equal((await store.rootClient()).id, root.id);
      const dup = client(c.name);
      await assert.rejects(store.createClient(dup, key(dup.id), event(dup.id, 'api_key_added')), DuplicateError);
      assert.equal((await store.getClient(c.id))?.name, c.name);
      const other = client(id('other.example.com'));
      const otherKey = key(other.id, id('other-hash'));
      await store.createClient(other, otherKey, event(other.id, 'api_key_added'));
      const renamed = await store.updateClient(other.id, { patch: { status: 'suspended', quotas: { max_queues: 3 } }, updatedAt: T + 1, expectedRevision: 1 });
      assert.deepEqual([renamed.status, renamed.quotas, renamed.revision], ['suspended', { max_queues: 3 }, 2]);
      await assert.rejects(store.updateClient(other.id, { patch: { name: 'x.example.com' }, updatedAt: T + 2, expectedRevision: 1 }), RevisionConflictError);
      const page = await store.listClients({ offset: 0, limit: 1 });
      assert.equal(page.items.length, 1);
      assert.equal(page.hasMore, true);
      await store.deleteClient(other.id);
      assert.equal(await store.findKeyByHash(otherKey.key_hash), undefined, 'keys go with their client');
      await assert.rejects(store.deleteClient(other.id), NotFoundError);
    });

    it('api keys: quota, lookup by hash, scoped reads, batched last use', async () => {
      const k = key(c.id);
      await store.createKey(k, event(c.id, 'api_key_added'), 10);
      await assert.rejects(store.createKey(key(c.id), undefined, 2), QuotaExceededError);
      const found = await store.findKeyByHash(k.key_hash);
      assert.deepEqual(found?.key.scopes, k.scopes);
      assert.equal(found?.client.id, c.id);
      assert.equal(await store.getKey('someone-else', k.id), undefined);
      await store.recordKeyUse(new Map([[k.id, T + 50]]));
      await store.recordKeyUse(new Map([[k.id, T + 10]]));
      assert.equal((await store.getKey(c.id, k.id))?.last_used_at, T + 50, 'last use never goes back');
      const updated = await store.updateKey(c.id, k.id, { patch: { status: 'disabled', scopes: [] }, updatedAt: T + 1 });
      assert.deepEqual([updated.status, updated.scopes], ['disabled', []]);
      await store.upsertKey({ ...k, name: 'replaced' });
      assert.equal((await store.getKey(c.id, k.id))?.name, 'replaced');
      await store.deleteKey(c.id, k.id, event(c.id, 'api_key_deleted'));
      assert.equal(await store.findKeyByHash(k.key_hash), undefined);
    });

    it('queues and listeners: unique names, quotas, scoping, rotation, cascade', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      await assert.rejects(store.createQueue(queue(c.id, q.name), event(c.id, 'queue_added'), 100), DuplicateError);
      await assert.rejects(store.createQueue(queue(c.id), event(c.id, 'queue_added'), 1), QuotaExceededError);
      const withSchema = await store.updateQueue(c.id, q.id, { patch: { schema: { a: { type: 'string' } }, schema_id: 'sid' }, updatedAt: T + 1 });
      assert.deepEqual(withSchema.schema, { a: { type: 'string' } });
      assert.equal(await store.getQueue('someone-else', q.id), undefined);

      const l = listener(q);
      await store.createListener(l, event(c.id, 'listener_added'), 100);
      await assert.rejects(store.createListener(listener(q, l.name), event(c.id, 'listener_added'), 100), DuplicateError);
      const rotated = await store.rotateListenerSecret(c.id, q.id, l.id, 'whsec_BBBB', T + 99, T + 2);
      assert.deepEqual([rotated.secret, rotated.previous_secret, rotated.previous_secret_until], ['whsec_BBBB', 'whsec_AAAA', T + 99]);
      assert.equal((await store.listListeners(c.id, q.id, { offset: 0, limit: 10 })).items.length, 1);
      const m = message(q);
      await store.createMessage(m, event(c.id, 'message_added'));
      await store.deleteQueue(c.id, q.id, event(c.id, 'queue_deleted'));
      assert.equal(await store.getListener(c.id, q.id, l.id), undefined);
      assert.equal(await store.getMessage(c.id, q.id, m.id), undefined);
    });

    it('delivery: one per listener that existed, leased claims with per-listener room, outcomes', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      const early = listener(q);
      await store.createListener(early, event(c.id, 'listener_added'), 100);
      const first = message(q, T);
      await store.createMessage(first, event(c.id, 'message_added'));
      const late = listener(q);
      await store.createListener(late, event(c.id, 'listener_added'), 100);
      const second = message(q, T + 1);
      await store.createMessage(second, event(c.id, 'message_added'));
      assert.equal((await store.deliveriesOf(first.id)).length, 1, 'a later listener does not get an earlier message');
      assert.equal((await store.deliveriesOf(second.id)).length, 2);

      const claim = (now: number, inFlight = new Map<string, number>()) => store.claimDeliveries({ now, leaseUntil: now + 1000, limit: 10, perListener: 1, inFlight });
      const jobs = await claim(T + 5);
      assert.deepEqual(jobs.map((j) => j.listener.id).sort(), [early.id, late.id].sort(), 'one per listener: its room is 1');
      assert.equal((await claim(T + 6)).length, 1, 'leased ones are not due; the rest is');
      assert.equal((await claim(T + 7)).length, 0);
      assert.equal(await store.nextDueAt(), T + 1005, 'the earliest lease');
      const job = jobs.find((j) => j.listener.id === early.id)!;
      assert.equal(job.message.data, '{"a":1}');
      assert.equal(job.queue.name, q.name);

      const firstJob = jobs.find((j) => j.message.id === first.id)!;
      const other = jobs.find((j) => j !== firstJob)!;
      await store.recordOutcomes([
        { kind: 'acknowledged', messageId: firstJob.message.id, listenerId: firstJob.listener.id, lease: firstJob.lease, at: T + 8, status: 200, error: null, event: event(c.id, 'message_published_ok') },
        { kind: 'retry', messageId: other.message.id, listenerId: other.listener.id, lease: other.lease, at: T + 8, status: 500, error: null, dueAt: T + 100 },
      ]);
      const views = await store.deliveriesOf(first.id);
      assert.deepEqual([views[0]!.state, views[0]!.attempts, views[0]!.last_status_code], ['acknowledged', 1, 200]);
      const retried = (await store.deliveriesOf(other.message.id)).find((v) => v.listener.id === other.listener.id)!;
      assert.deepEqual([retried.state, retried.attempts, retried.next_attempt_at], ['pending', 1, T + 100]);
      await store.recordOutcomes([{ kind: 'missed', messageId: other.message.id, listenerId: other.listener.id, lease: T + 100, at: T + 9, status: null, error: 'refused', event: event(c.id, 'message_published_not_ok') }]);
      const missedListener = await store.getListener(c.id, q.id, other.listener.id);
      assert.equal(missedListener?.missed_count, 1);
      assert.deepEqual(await store.missedMessageIds(other.listener.id, 10), [other.message.id]);
      assert.equal((await store.getListener(c.id, q.id, firstJob.listener.id))?.acknowledged_count, 1);

      assert.equal(await store.redeliver(other.listener.id, ['unknown'], T + 10), 0);
      assert.equal(await store.redeliver(other.listener.id, undefined, T + 10), 1);
      assert.equal((await store.getListener(c.id, q.id, other.listener.id))?.missed_count, 0);
      const again = await claim(T + 11);
      assert.deepEqual(again.map((j) => [j.message.id, j.listener.id]), [[other.message.id, other.listener.id]], 'the redelivered one, at once');
    });

    it('a full listener\'s backlog does not hide another listener\'s due work', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      const slow = listener(q);
      await store.createListener(slow, event(c.id, 'listener_added'), 100);
      for (let i = 0; i < 50; i++) await store.createMessage(message(q, T - 10_000 + i), event(c.id, 'message_added'));
      const q2 = queue(c.id);
      await store.createQueue(q2, event(c.id, 'queue_added'), 100);
      const fast = listener(q2);
      await store.createListener(fast, event(c.id, 'listener_added'), 100);
      const m = message(q2, T);
      await store.createMessage(m, event(c.id, 'message_added'));
      const jobs = await store.claimDeliveries({ now: T, leaseUntil: T + 1000, limit: 10, perListener: 5, inFlight: new Map([[slow.id, 5]]) });
      assert.deepEqual(jobs.map((j) => j.message.id), [m.id]);
      const more = await store.claimDeliveries({ now: T, leaseUntil: T + 1000, limit: 10, perListener: 5, inFlight: new Map([[slow.id, 3]]) });
      assert.equal(more.length, 2, 'the slow listener gets exactly its room');
      assert.ok(more.every((j) => j.listener.id === slow.id));
    });

    it('an outcome counts only under the lease of its claim', async () => {
      const { q, l } = await queueWithListener();
      const m = message(q, T);
      await store.createMessage(m, event(c.id, 'message_added'));
      const claim = (now: number) => store.claimDeliveries({ now, leaseUntil: now + 1000, limit: 1000, perListener: 1000, inFlight: new Map() });
      const [stale] = (await claim(T)).filter((j) => j.message.id === m.id);
      const [fresh] = (await claim(T + 5000)).filter((j) => j.message.id === m.id);
      assert.ok(stale && fresh, 'the lease ran out, so the delivery was claimed again');
      const ack = (lease: number) => ({ kind: 'acknowledged' as const, messageId: m.id, listenerId: l.id, lease, at: T + 5001, status: 200, error: null });
      await store.recordOutcomes([{ ...ack(stale.lease), kind: 'retry', dueAt: T }]);
      await store.recordOutcomes([ack(stale.lease)]);
      const view = (await store.deliveriesOf(m.id))[0]!;
      assert.deepEqual([view.state, view.attempts], ['pending', 0], 'the expired claim changed nothing');
      await store.recordOutcomes([ack(fresh.lease)]);
      assert.equal((await store.deliveriesOf(m.id))[0]!.state, 'acknowledged');
    });

    it('liveness: a revived listener gets a delayed message no earlier than due', async () => {
      const { q, l } = await queueWithListener();
      for (let i = 0; i < 3; i++) await store.recordProbe(l.id, false, T);
      const later = message(q, T, T + 86_400_000);
      await store.createMessage(later, event(c.id, 'message_added'));
      await store.recordProbe(l.id, true, T + 1);
      assert.equal(await store.alignDeliveries(l.id, T + 1, 1000), 1);
      const view = (await store.deliveriesOf(later.id))[0]!;
      assert.deepEqual([view.state, view.next_attempt_at], ['pending', T + 86_400_000]);
    });

    it('liveness: probes are claimed once; dead holds deliveries, revival resumes them', async () => {
      const { q, l } = await queueWithListener();
      const probes = await store.claimProbes(T + 1, T + 1000, 1000);
      assert.ok(probes.some((p) => p.id === l.id));
      assert.ok(!(await store.claimProbes(T + 2, T + 1000, 1000)).some((p) => p.id === l.id));
      const pending = [message(q), message(q), message(q)];
      for (const m of pending) await store.createMessage(m, event(c.id, 'message_added'));
      for (let i = 0; i < 3; i++) await store.recordProbe(l.id, false, T + 3);
      assert.equal((await store.getListener(c.id, q.id, l.id))?.liveness_state, 'dead');
      assert.equal((await store.deliveriesOf(pending[0]!.id))[0]!.state, 'pending', 'held by alignment, not by the probe');
      const align = (at: number) => store.alignDeliveries(l.id, at, 2);
      assert.deepEqual([await align(T + 3), await align(T + 3), await align(T + 3)], [2, 1, 0], 'held in batches');
      const later = message(q);
      await store.createMessage(later, event(c.id, 'message_added'));
      const held = [...pending, later];
      for (const m of held) assert.equal((await store.deliveriesOf(m.id))[0]!.state, 'held');
      assert.deepEqual(await store.recordProbe(l.id, true, T + 4), { from: 'dead', to: 'unstable' });
      assert.deepEqual([await align(T + 4), await align(T + 4), await align(T + 4)], [2, 2, 0], 'resumed in batches');
      const resumed = (await store.deliveriesOf(held[3]!.id))[0]!;
      assert.deepEqual([resumed.state, resumed.attempts], ['pending', 0]);
      const live = await store.getListener(c.id, q.id, l.id);
      assert.deepEqual([live?.liveness_success_count, live?.liveness_failure_count], [1, 3]);
    });

    it('liveness: a send that fails after its listener died waits its retry, not its lease', async () => {
      const { q, l } = await queueWithListener();
      const m = message(q, T);
      const unaligned = message(q, T);
      for (const each of [m, unaligned]) await store.createMessage(each, event(c.id, 'message_added'));
      const jobs = await store.claimDeliveries({ now: T, leaseUntil: T + 25_000, limit: 1000, perListener: 1000, inFlight: new Map() });
      const [job, other] = [m, unaligned].map((each) => jobs.find((j) => j.message.id === each.id)!);
      assert.ok(job && other);
      for (let i = 0; i < 3; i++) await store.recordProbe(l.id, false, T + 1);
      const retry = (j: typeof job, id: string) => ({ kind: 'retry' as const, messageId: id, listenerId: l.id, lease: j.lease, at: T + 2, status: null, error: 'refused', dueAt: T + 1000 });
      await store.recordOutcomes([retry(other, unaligned.id)]);
      assert.equal((await store.deliveriesOf(unaligned.id))[0]!.state, 'held', 'a retry for a dead listener holds, aligned or not');
      assert.equal(await store.alignDeliveries(l.id, T + 1, 1000), 1, 'the delivery in flight is held too');
      await store.recordOutcomes([retry(job, m.id)]);
      const held = (await store.deliveriesOf(m.id))[0]!;
      assert.deepEqual([held.state, held.attempts, held.last_error], ['held', 1, 'refused'], 'the attempt counts; the delivery stays held');
      await store.recordProbe(l.id, true, T + 3);
      await store.alignDeliveries(l.id, T + 3, 1000);
      const resumed = (await store.deliveriesOf(m.id))[0]!;
      assert.deepEqual([resumed.state, resumed.next_attempt_at], ['pending', T + 1000], 'due at its retry, not when the lease would end');
    });

    it('schedules: a tick fires once however many claim it; delayed messages wait', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      const s = schedule(q, T + 60_000);
      await store.createSchedule(s, event(c.id, 'schedule_added'), 100);
      await assert.rejects(store.createSchedule({ ...schedule(q, T), name: s.name }, event(c.id, 'schedule_added'), 100), DuplicateError);
      assert.equal(await store.nextTickAt(), T + 60_000);
      const due = await store.dueSchedules(T + 60_000, 10);
      assert.deepEqual(due.map((d) => d.schedule.id), [s.id]);
      assert.equal(due[0]!.queue.id, q.id);
      const tick = (m: Message) => ({ schedule: s, due: T + 60_000, next: T + 120_000, at: T + 60_000, outcome: { message: m, event: event(c.id, 'message_added') } });
      const fired = await Promise.all([store.fireTick(tick({ ...message(q), schedule_id: s.id })), store.fireTick(tick({ ...message(q), schedule_id: s.id }))]);
      assert.deepEqual(fired.sort(), [false, true]);
      const after = await store.getSchedule(c.id, q.id, s.id);
      assert.deepEqual([after?.run_count, after?.next_run_at, after?.last_run_at], [1, T + 120_000, T + 60_000]);
      const paused = await store.updateSchedule(c.id, q.id, s.id, { patch: { status: 'paused', next_run_at: null }, updatedAt: T + 1 });
      assert.equal(paused.next_run_at, null);
      assert.equal((await store.dueSchedules(T + 10 ** 9, 10)).filter((d) => d.schedule.id === s.id).length, 0);
      await store.deleteSchedule(c.id, q.id, s.id, event(c.id, 'schedule_deleted'));
      assert.equal((await store.listSchedules(c.id, q.id, { offset: 0, limit: 10 })).items.length, 0);

      const delayed = message(q, T, T + 5000);
      await store.createMessage(delayed, event(c.id, 'message_added'));
      assert.equal((await store.deliveriesOf(delayed.id)).length, 0, 'no listener, no delivery');
      assert.equal((await store.getMessage(c.id, q.id, delayed.id))?.deliver_at, T + 5000);
    });

    it('usage events: category filter, cursor, window counts, purge', async () => {
      const d = client(id('events.example.com'));
      await store.createClient(d, key(d.id), event(d.id, 'api_key_added', T - 10));
      const q = queue(d.id);
      await store.createQueue(q, event(d.id, 'queue_added', T - 5, { queue: { id: q.id, name: q.name } }), 100);
      for (let i = 0; i < 3; i++) await store.createMessage(message(q), event(d.id, 'message_added', T + i));
      const all = await store.listEvents({ clientId: d.id, category: undefined, after: { at: 0, id: '' }, limit: 100 });
      assert.deepEqual(all.map((e) => e.type), ['api_key_added', 'queue_added', 'message_added', 'message_added', 'message_added']);
      assert.deepEqual(all[1]!.queue, { id: q.id, name: q.name });
      const next = await store.listEvents({ clientId: d.id, category: 'messages', after: { at: T, id: '' }, limit: 100 });
      assert.equal(next.length, 3, 'same instant, any id after the empty one');
      const rest = await store.listEvents({ clientId: d.id, category: 'messages', after: { at: next[0]!.stored_at, id: next[0]!.id }, limit: 100 });
      assert.equal(rest.length, 2);
      const counts = await store.countEvents(d.id, { last24h: T - 100, last1h: T, today: T + 2 });
      assert.deepEqual([counts.last24h.message_added, counts.last1h.message_added, counts.today.message_added], [3, 3, 1]);
      assert.equal(counts.last24h.api_key_added, 1);
      assert.equal(counts.last24h.listener_deleted, 0);
      assert.ok((await store.purgeEventsBefore(T - 1, 1000)) >= 2);
    });

    it('retention purges acknowledged messages only', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 100);
      const plain = message(q, T - 1000);
      await store.createMessage(plain, event(c.id, 'message_added'));
      assert.ok((await store.purgeAcknowledgedMessages(T, 100)) >= 1);
      assert.equal(await store.getMessage(c.id, q.id, plain.id), undefined);
    });

    it('concurrent writes: a failing one fails alone, the others commit', async () => {
      const names = ['same', 'same', 'other-1', 'other-2'].map((n) => `${n}-${kind.name}`);
      const results = await Promise.allSettled(names.map((name) => store.createQueue(queue(c.id, name), event(c.id, 'queue_added'), 1000)));
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
      assert.ok((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason instanceof DuplicateError);
      const all = await store.listQueues(c.id, { offset: 0, limit: 100 });
      for (const name of new Set(names)) assert.equal(all.items.filter((q) => q.name === name).length, 1, name);
    });

    it('counts pending deliveries and listeners by state, for metrics', async () => {
      const q = queue(c.id);
      await store.createQueue(q, event(c.id, 'queue_added'), 1000);
      const before = await store.countPendingDeliveries();
      await store.createListener(listener(q), event(c.id, 'listener_added'), 1000);
      await store.createMessage(message(q), event(c.id, 'message_added'));
      assert.equal(await store.countPendingDeliveries(), before + 1);
      const states = await store.countListenersByState();
      assert.ok(states.stable >= 1);
      assert.ok(states.unstable >= 1, 'the listener the liveness test revived');
    });

    it('reports an unavailable store as such', async () => {
      const other = await reopen();
      await other.close();
      const err = await other.getClient('x').then(() => undefined, (e: unknown) => e);
      assert.ok(err, 'a closed store fails');
      assert.equal(other.isUnavailable(err), true);
      assert.equal(store.isUnavailable(new Error('a bug')), false);
    });
  });
}
