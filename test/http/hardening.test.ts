import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRootKey } from '../../src/root-key.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { hashKey } from '../../src/tenancy.js';
import { ROOT_KEY, seedTenant, startServer, type Tenant, type TestServer } from '../helpers/server.js';

/** A raw request, for paths fetch would normalise. */
function rawGet(url: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { headers: { 'x-api-key': ROOT_KEY } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hostile input gets a 4xx and changes nothing', () => {
  let server: TestServer;
  let tenant: Tenant;
  before(async () => {
    server = await startServer();
    tenant = await seedTenant(server, 'hard.example.com');
  });
  after(() => server.close());

  it('a schema nested far too deep is a 400, not a stack overflow', async () => {
    const depth = 500;
    const schema = `${'{"type":"object","props":{"a":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
    const response = await server.call('POST', '/queues', { key: tenant.key, body: `{"name":"deep","schema":{"a":${schema}}}` });
    assert.equal(response.status, 400, response.text);
    assert.match(response.body.detail, /deeper than 16/);
  });

  it('a lone surrogate in a string is a 400, not silently replaced', async () => {
    const response = await server.call('POST', `/queues/${tenant.queueId}/messages`, { key: tenant.key, body: '{"data":"\\ud800x"}' });
    assert.equal(response.status, 400);
    assert.match(response.body.detail, /lone surrogate/);
  });

  it('a broken percent-escape in the path answers in the API\'s error shape', async () => {
    const response = await rawGet(server.url, '/v1/queues/%E0%A4%A');
    assert.equal(response.status, 400);
    assert.equal(response.body.title, 'Bad Request');
  });

  it('an over-long id is a 400 naming the parameter', async () => {
    const response = await rawGet(server.url, `/v1/queues/${'x'.repeat(300)}`);
    assert.equal(response.status, 400);
    assert.match(response.body.detail, /queue_id/);
  });

  it('lists carry no message data; the single GET does', async () => {
    const list = await server.call('GET', '/messages', { key: tenant.key });
    assert.equal(list.status, 200);
    assert.ok(list.body.messages.length > 0);
    for (const m of list.body.messages) assert.ok(!('data' in m));
    const one = await server.call('GET', `/queues/${tenant.queueId}/messages/${tenant.messageId}`, { key: tenant.key });
    assert.equal(one.body.message.data, '{"user":"ann"}');
  });

  it('If-Match takes a list of tags and compares strongly', async () => {
    const queue = await server.call('GET', `/queues/${tenant.queueId}`, { key: tenant.key });
    const etag = queue.headers.get('etag')!;
    const weak = await server.call('PUT', `/queues/${tenant.queueId}`, { key: tenant.key, body: { name: 'weak' }, headers: { 'if-match': `W/${etag}` } });
    assert.equal(weak.status, 409);
    const listed = await server.call('PUT', `/queues/${tenant.queueId}`, { key: tenant.key, body: { name: 'listed' }, headers: { 'if-match': `"other", ${etag}` } });
    assert.equal(listed.status, 200, listed.text);
  });
});

describe('the root key from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'discue-root-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a generated root key and is restored at every start', async () => {
    const store = openSqliteStore(dir);
    try {
      const generated = await ensureRootKey(store, undefined, 1);
      assert.ok(generated);
      await ensureRootKey(store, 'operator-chosen-key-0123456789', 2);
      assert.equal(await store.findKeyByHash(hashKey(generated)), undefined, 'the generated key stops working');
      const root = await store.rootClient();
      await store.updateKey(root.id, 'root-env', { patch: { status: 'disabled', scopes: [] }, updatedAt: 3 });
      await ensureRootKey(store, 'operator-chosen-key-0123456789', 4);
      const found = await store.findKeyByHash(hashKey('operator-chosen-key-0123456789'));
      assert.equal(found?.key.status, 'enabled');
      assert.ok(found.key.scopes.some((s) => s.resource === 'api_clients' && s.access === 'write'));
    } finally {
      await store.close();
    }
  });
});
