import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SchemaCache } from '../../src/domain/schema-cache.js';
import { Scheduler } from '../../src/scheduling/scheduler.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { TestListener, until } from '../helpers/listener.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface Setup {
  key: string;
  queueId: string;
}

async function tenant(server: TestServer, name: string, schema?: object): Promise<Setup> {
  const client = await server.call('POST', '/api_clients', { body: { name } });
  const key = client.body.api_key as string;
  const queue = await server.call('POST', '/queues', { key, body: { name: 'q', ...(schema ? { schema } : {}) } });
  assert.equal(queue.status, 200, queue.text);
  return { key, queueId: queue.body.queue.id };
}

const silent = pino({ level: 'silent' });

describe('delayed messages', () => {
  let server: TestServer;
  let listener: TestListener;
  let t: Setup;

  before(async () => {
    listener = await TestListener.start();
    server = await startServer({ DISCUE_LIVENESS_INTERVAL: '1h' }, undefined, { delivery: true });
    t = await tenant(server, 'delay.example.com');
    await server.call('POST', `/queues/${t.queueId}/listeners`, { key: t.key, body: { name: 'l', notify_url: `${listener.url}/in`, liveness_url: `${listener.url}/alive` } });
  });
  after(async () => {
    await server.close();
    await listener.close();
  });

  it('holds a message with delay until it is due', async () => {
    const published = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'later', delay: '300ms' } });
    assert.equal(published.status, 200, published.text);
    const due = published.body.message.deliver_at as number;
    assert.ok(due >= published.body.message.created_at + 300);
    const stored = await server.call('GET', `/queues/${t.queueId}/messages/${published.body.message.id}`, { key: t.key });
    assert.equal(stored.body.message.deliver_at, due);
    await listener.received('/in', 1);
    assert.ok(listener.to('/in')[0]!.at >= due, 'not before it is due');
  });

  it('holds a message with deliver_at, and an earlier one published later overtakes it', async () => {
    const start = Date.now();
    const late = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'late', deliver_at: start + 600 } });
    const soon = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'soon', delay: 100 } });
    await listener.received('/in', 3);
    const order = listener.to('/in').slice(1).map((r) => r.headers['webhook-id']);
    assert.deepEqual(order, [soon.body.message.id, late.body.message.id]);
    assert.ok(listener.to('/in')[2]!.at >= start + 600);
  });

  it('refuses delay with deliver_at (400), and more than a year ahead (422)', async () => {
    const both = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'x', delay: '1s', deliver_at: Date.now() } });
    assert.equal(both.status, 400);
    const far = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'x', delay: '400d' } });
    assert.equal(far.status, 422);
    const bad = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { data: 'x', delay: 'tomorrow' } });
    assert.equal(bad.status, 400);
  });
});

describe('schedules', () => {
  let server: TestServer;
  let listener: TestListener;

  before(async () => {
    listener = await TestListener.start();
    server = await startServer({ DISCUE_LIVENESS_INTERVAL: '1h' }, undefined, { delivery: true });
  });
  after(async () => {
    await server.close();
    await listener.close();
  });

  it('fires a seconds-field schedule repeatedly; pause stops it, resume restarts it', async () => {
    const t = await tenant(server, 'cron.example.com');
    await server.call('POST', `/queues/${t.queueId}/listeners`, { key: t.key, body: { name: 'l', notify_url: `${listener.url}/tick`, liveness_url: `${listener.url}/alive` } });
    const created = await server.call('POST', `/queues/${t.queueId}/schedules`, {
      key: t.key,
      body: { name: 'every-second', cron: '* * * * * *', data: '{"ping":true}', message_name: 'ping' },
    });
    assert.equal(created.status, 200, created.text);
    const schedule = created.body.schedule;
    assert.equal(schedule.status, 'enabled');
    assert.equal(schedule.timezone, 'UTC');
    assert.equal(typeof schedule.next_run_at, 'number');
    const path = `/queues/${t.queueId}/schedules/${schedule.id}`;

    await listener.received('/tick', 2);
    const body = JSON.parse(listener.to('/tick')[0]!.body);
    assert.equal(body.message.name, 'ping');
    assert.equal(body.message.data, '{"ping":true}');
    const fired = await server.call('GET', `/queues/${t.queueId}/messages/${body.message.id}`, { key: t.key });
    assert.equal(fired.body.message.schedule_id, schedule.id);

    const paused = await server.call('PUT', path, { key: t.key, body: { status: 'paused' } });
    assert.equal(paused.body.schedule.next_run_at, null);
    const runsAtPause = paused.body.schedule.run_count as number;
    assert.ok(runsAtPause >= 2);
    // Paused: the next tick instant passes without a run. Wait for it by watching the clock
    // cross the next whole second, then check the count again.
    const nextSecond = Math.ceil((Date.now() + 1) / 1000) * 1000 + 100;
    await until(async () => Date.now() >= nextSecond, 'a tick instant to pass', 3000);
    assert.equal((await server.call('GET', path, { key: t.key })).body.schedule.run_count, runsAtPause);

    const resumed = await server.call('PUT', path, { key: t.key, body: { status: 'enabled' } });
    assert.equal(typeof resumed.body.schedule.next_run_at, 'number');
    const seen = listener.to('/tick').length;
    await listener.received('/tick', seen + 1);
    const after = (await server.call('GET', path, { key: t.key })).body.schedule;
    assert.ok(after.run_count > runsAtPause);
    assert.equal(typeof after.last_run_at, 'number');

    const events = await server.call('GET', '/events?events=schedules', { key: t.key });
    assert.deepEqual([...new Set(events.body.events.map((e: { type: string }) => e.type))].sort(), ['schedule_added', 'schedule_updated']);
    assert.equal((await server.call('DELETE', path, { key: t.key })).status, 200);
    assert.equal((await server.call('GET', path, { key: t.key })).status, 404);
  });

  it('lists schedules and refuses bad cron expressions, zones and data', async () => {
    const t = await tenant(server, 'bad-cron.example.com', { ok: { type: 'string' } });
    const post = (body: object) => server.call('POST', `/queues/${t.queueId}/schedules`, { key: t.key, body });
    const badCron = await post({ name: 'a', cron: '99 * * * *', data: '{"ok":"y"}' });
    assert.equal(badCron.status, 400);
    assert.match(badCron.body.detail, /cron/);
    const badZone = await post({ name: 'a', cron: '0 * * * *', timezone: 'Europe/Atlantis', data: '{"ok":"y"}' });
    assert.equal(badZone.status, 400);
    assert.match(badZone.body.detail, /time zone/);
    assert.equal((await post({ name: 'a', cron: '0 * * * *', data: '{"ok":1}' })).status, 422, 'data failing the schema');
    assert.equal((await post({ name: 'a', cron: '0 * * * *', data: '{"ok":"y"}', timezone: 'Europe/Berlin' })).status, 200);
    assert.equal((await post({ name: 'a', cron: '0 * * * *', data: '{"ok":"y"}' })).status, 422, 'duplicate name');
    const list = await server.call('GET', `/queues/${t.queueId}/schedules`, { key: t.key });
    assert.equal(list.body.schedules.length, 1);
    assert.equal(list.body.schedules[0].timezone, 'Europe/Berlin');
  });
});

describe('exactly once per tick', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('two schedulers on one store fire each tick once; after downtime only the latest tick fires', async () => {
    const t = await tenant(server, 'once.example.com', { n: { type: 'number' } });
    const created = await server.call('POST', `/queues/${t.queueId}/schedules`, { key: t.key, body: { name: 'minutely', cron: '* * * * *', data: '{"n":1}' } });
    const first = created.body.schedule.next_run_at as number;

    // Two connections to one database, as two processes would have; one clock for both.
    const stores = [openSqliteStore(server.dataDir), openSqliteStore(server.dataDir)];
    let now = first + 5 * 60_000 + 1; // five ticks were missed while "down"
    const schedulers = stores.map((s) => new Scheduler(s, new SchemaCache(), { maxDataBytes: 1 << 20, pollIntervalMs: 1000 }, () => {}, silent, () => now));
    try {
      const fired = await Promise.all(schedulers.map((s) => s.fireDue()));
      assert.equal(fired[0]! + fired[1]!, 1, 'one message for the missed ticks, from one scheduler');
      now += 60_000;
      const again = await Promise.all(schedulers.map((s) => s.fireDue()));
      assert.equal(again[0]! + again[1]!, 1);
      assert.equal((await Promise.all(schedulers.map((s) => s.fireDue()))).reduce((a, b) => a + b), 0, 'nothing is due twice');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const messages = await server.call('GET', `/queues/${t.queueId}/messages`, { key: t.key });
    assert.equal(messages.body.messages.length, 2);
    const schedule = (await server.call('GET', `/queues/${t.queueId}/schedules/${created.body.schedule.id}`, { key: t.key })).body.schedule;
    assert.equal(schedule.run_count, 2);
    assert.ok(schedule.next_run_at > now, 'the next tick is in the future, not a backlog');
  });

  it('a change of data after a tick does not bring that tick back', async () => {
    const t = await tenant(server, 'edit.example.com');
    const created = await server.call('POST', `/queues/${t.queueId}/schedules`, { key: t.key, body: { name: 'edited', cron: '* * * * *', data: 'v1' } });
    const path = `/queues/${t.queueId}/schedules/${created.body.schedule.id}`;
    const store = openSqliteStore(server.dataDir);
    const now = created.body.schedule.next_run_at as number;
    try {
      const scheduler = new Scheduler(store, new SchemaCache(), { maxDataBytes: 1 << 20, pollIntervalMs: 1000 }, () => {}, silent, () => now);
      assert.equal(await scheduler.fireDue(), 1);
      const fired = (await server.call('GET', path, { key: t.key })).body.schedule.next_run_at;
      const edited = await server.call('PUT', path, { key: t.key, body: { data: 'v2' } });
      assert.equal(edited.body.schedule.next_run_at, fired);
      assert.equal(await scheduler.fireDue(), 0, 'the fired tick stays fired');
    } finally {
      await store.close();
    }
    // The schedulers of the other tests share this store.
    assert.equal((await server.call('DELETE', path, { key: t.key })).status, 200);
  });

  it('records a tick whose data fails the schema as an event and keeps running', async () => {
    const t = await tenant(server, 'drift.example.com', { n: { type: 'number' } });
    const created = await server.call('POST', `/queues/${t.queueId}/schedules`, { key: t.key, body: { name: 'drifting', cron: '* * * * *', data: '{"n":1}' } });
    // The queue's schema changes after the schedule was set: its data no longer fits.
    await server.call('PUT', `/queues/${t.queueId}`, { key: t.key, body: { schema: { n: { type: 'string' } } } });
    const store = openSqliteStore(server.dataDir);
    let now = created.body.schedule.next_run_at as number;
    try {
      const scheduler = new Scheduler(store, new SchemaCache(), { maxDataBytes: 1 << 20, pollIntervalMs: 1000 }, () => {}, silent, () => now);
      assert.equal(await scheduler.fireDue(), 1);
      now += 60_000;
      assert.equal(await scheduler.fireDue(), 1, 'the schedule keeps running');
    } finally {
      await store.close();
    }
    const events = await server.call('GET', '/events?events=schedules', { key: t.key });
    assert.equal(events.body.events.filter((e: { type: string }) => e.type === 'schedule_failed').length, 2);
    assert.equal((await server.call('GET', `/queues/${t.queueId}/messages`, { key: t.key })).body.messages.length, 0);
  });
});
