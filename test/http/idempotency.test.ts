import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedTenant, startServer, type Tenant, type TestServer } from '../helpers/server.js';

describe('Idempotency-Key on publish', () => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;

  before(async () => {
    server = await startServer();
    a = await seedTenant(server, 'idem-a.example.com');
    b = await seedTenant(server, 'idem-b.example.com');
  });
  after(() => server.close());

  const publish = (t: Tenant, key: string, body: object) =>
    server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body, headers: { 'idempotency-key': key } });
  const count = async (t: Tenant) => (await server.call('GET', `/queues/${t.queueId}/messages?per_page=100`, { key: t.key })).body.messages.length;

  it('answers a repeat with the first answer and stores nothing new', async () => {
    const before = await count(a);
    const first = await publish(a, 'order-1', { name: 'n', data: '{"user":"x"}' });
    assert.equal(first.status, 200, first.text);
    const again = await publish(a, 'order-1', { data: '{"user":"x"}', name: 'n' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.body.message, first.body.message);
    assert.equal(await count(a), before + 1);
  });

  it('refuses the key with another body (409)', async () => {
    await publish(a, 'order-2', { data: '{"user":"x"}' });
    const other = await publish(a, 'order-2', { data: '{"user":"y"}' });
    assert.equal(other.status, 409);
    assert.equal(other.body.title, 'Conflict');
  });

  it('keeps keys apart per api client', async () => {
    const mine = await publish(a, 'shared-key', { data: '{"user":"x"}' });
    const theirs = await publish(b, 'shared-key', { data: '{"user":"x"}' });
    assert.equal(theirs.status, 200);
    assert.notEqual(theirs.body.message.id, mine.body.message.id);
  });

  it('stores one message when the same key arrives many times at once', async () => {
    const before = await count(a);
    const answers = await Promise.all(Array.from({ length: 8 }, () => publish(a, 'burst', { data: '{"user":"z"}' })));
    assert.ok(answers.every((r) => r.status === 200), answers.map((r) => r.status).join());
    assert.equal(new Set(answers.map((r) => r.body.message.id)).size, 1);
    assert.equal(await count(a), before + 1);
  });

  it('refuses a malformed key (400)', async () => {
    assert.equal((await publish(a, 'has space', { data: 'x' })).status, 400);
  });
});
