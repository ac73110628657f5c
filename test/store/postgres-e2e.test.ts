import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { TestListener, until } from '../helpers/listener.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { seedTenant, startServer, type Tenant, type TestServer } from '../helpers/server.js';

// The API and the broadcast end to end on PostgreSQL: the same behaviour as on SQLite.

describe('the API on PostgreSQL', () => {
  let postgres: TestPostgres;
  let server: TestServer;
  let listener: TestListener;
  let a: Tenant;
  let b: Tenant;

  before(async () => {
    postgres = await startPostgres();
    listener = await TestListener.start();
    const url = await postgres.database('e2e');
    server = await startServer({ DISCUE_DATABASE_URL: url, DISCUE_RETRY_SCHEDULE: '30ms', DISCUE_LIVENESS_INTERVAL: '1h' }, undefined, { delivery: true });
    a = await seedTenant(server, 'a.example.com');
    b = await seedTenant(server, 'b.example.com');
  });
  after(async () => {
    await server.close();
    await listener.close();
    await postgres.stop();
  });

  it('keeps tenants apart', async () => {
    for (const path of [`/queues/${a.queueId}`, `/queues/${a.queueId}/messages/${a.messageId}`, `/api_keys/${a.keyId}`, `/api_clients/${a.clientId}`]) {
      assert.equal((await server.call('GET', path, { key: b.key })).status, 404, path);
    }
  });

  it('refuses duplicates (422), lost updates (409) and data failing the schema (422)', async () => {
    assert.equal((await server.call('POST', '/queues', { key: a.key, body: { name: 'a.example.com-queue' } })).status, 422);
    const queue = await server.call('GET', `/queues/${a.queueId}`, { key: a.key });
    const etag = queue.headers.get('etag')!;
    assert.equal((await server.call('PUT', `/queues/${a.queueId}`, { key: a.key, body: { name: 'renamed' }, headers: { 'if-match': etag } })).status, 200);
    assert.equal((await server.call('PUT', `/queues/${a.queueId}`, { key: a.key, body: { name: 'again' }, headers: { 'if-match': etag } })).status, 409);
    const bad = await server.call('POST', `/queues/${a.queueId}/messages`, { key: a.key, body: { data: '{"user":5}' } });
    assert.equal(bad.status, 422);
  });

  it('delivers signed messages, delayed ones no earlier than due, and counts them', async () => {
    const listenerBody = { name: 'pg-listener', notify_url: `${listener.url}/pg`, liveness_url: `${listener.url}/alive` };
    const created = await server.call('POST', `/queues/${a.queueId}/listeners`, { key: a.key, body: listenerBody });
    assert.equal(created.status, 200, created.text);
    const now = await server.call('POST', `/queues/${a.queueId}/messages`, { key: a.key, body: { data: '{"user":"now"}' } });
    const later = await server.call('POST', `/queues/${a.queueId}/messages`, { key: a.key, body: { data: '{"user":"later"}', delay: '300ms' } });
    await listener.received('/pg', 2);
    const [first, second] = listener.to('/pg');
    assert.equal(first!.headers['webhook-id'], now.body.message.id);
    assert.equal(second!.headers['webhook-id'], later.body.message.id);
    assert.ok(second!.at >= later.body.message.deliver_at);
    new Webhook(created.body.listener.secret).verify(second!.body, second!.headers as Record<string, string>);
    await until(async () => {
      const view = await server.call('GET', `/queues/${a.queueId}/listeners/${created.body.listener.id}`, { key: a.key });
      return view.body.listener.messages.acknowledged_count === 2;
    }, 'both acknowledgements');
    const stats = await server.call('GET', '/stats/messages', { key: a.key });
    assert.equal(stats.body.aggregated_api_usage_events.last_1_hours.message_published_ok, 2);
  });

  it('fires a schedule\'s ticks', async () => {
    const created = await server.call('POST', `/queues/${b.queueId}/listeners`, { key: b.key, body: { name: 'ticks', notify_url: `${listener.url}/ticks`, liveness_url: `${listener.url}/alive` } });
    assert.equal(created.status, 200);
    const schedule = await server.call('POST', `/queues/${b.queueId}/schedules`, { key: b.key, body: { name: 's', cron: '* * * * * *', data: '{"user":"cron"}' } });
    assert.equal(schedule.status, 200, schedule.text);
    await listener.received('/ticks', 2);
    const ids = listener.to('/ticks').map((r) => r.headers['webhook-id']);
    assert.equal(new Set(ids).size, ids.length, 'each tick is its own message');
    await server.call('PUT', `/queues/${b.queueId}/schedules/${schedule.body.schedule.id}`, { key: b.key, body: { status: 'paused' } });
  });

  it('lists events with a cursor', async () => {
    const page = await server.call('GET', '/events?limit=2', { key: a.key });
    assert.equal(page.body.events.length, 2);
    const next = await server.call('GET', new URL(page.body._links.next.href).pathname + new URL(page.body._links.next.href).search, { key: a.key });
    assert.ok(next.body.events.length > 0);
    assert.ok(!next.body.events.some((e: { id: string }) => page.body.events.some((p: { id: string }) => p.id === e.id)));
  });
});
