import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSED_ROUTES } from '../helpers/routes.js';
import { seedTenant, startServer, type Tenant, type TestServer } from '../helpers/server.js';

describe('tenant isolation: a key never reaches another api client\'s resources', () => {
  let server: TestServer;
  let owner: Tenant;
  let intruder: Tenant;

  before(async () => {
    server = await startServer();
    owner = await seedTenant(server, 'owner.example.com');
    intruder = await seedTenant(server, 'intruder.example.com');
  });
  after(() => server.close());

  /** What the owner sees of its own resources, to prove nothing changed. */
  const snapshot = async () => {
    const as = (path: string) => server.call('GET', path, { key: owner.key }).then((r) => r.body);
    return {
      queue: await as(`/queues/${owner.queueId}`),
      listener: await as(`/queues/${owner.queueId}/listeners/${owner.listenerId}`),
      message: await as(`/queues/${owner.queueId}/messages/${owner.messageId}`),
      key: await as(`/api_keys/${owner.keyId}`),
      client: await as(`/api_clients/${owner.clientId}`),
      messages: await as('/messages?per_page=100'),
    };
  };

  for (const route of ADDRESSED_ROUTES) {
    it(`${route.method} ${route.path({ clientId: ':client', queueId: ':queue', listenerId: ':listener', messageId: ':message', keyId: ':key', schemaId: ':schema', key: '' })} → 404`, async () => {
      const before = await snapshot();
      const response = await server.call(route.method, route.path(owner), { key: intruder.key, body: route.body?.(owner) });
      assert.equal(response.status, 404, response.text);
      assert.deepEqual(response.body, { title: 'Not Found', status: 404, detail: response.body.detail });
      assert.deepEqual(await snapshot(), before);
    });
  }

  it('lists show only the caller\'s own resources', async () => {
    for (const path of ['/queues', '/listeners', '/messages', '/api_keys', '/events?limit=1000']) {
      const { body } = await server.call('GET', `${path}${path.includes('?') ? '&' : '?'}per_page=100`, { key: intruder.key });
      const text = JSON.stringify(body);
      for (const id of [owner.queueId, owner.listenerId, owner.messageId, owner.keyId, owner.clientId]) {
        assert.ok(!text.includes(id), `${path} leaks ${id}`);
      }
    }
  });

  it('a tenant cannot list, create or delete api clients', async () => {
    assert.equal((await server.call('GET', '/api_clients', { key: intruder.key })).status, 403);
    assert.equal((await server.call('POST', '/api_clients', { key: intruder.key, body: { name: 'x.example.com' } })).status, 403);
    assert.equal((await server.call('DELETE', `/api_clients/${intruder.clientId}`, { key: intruder.key })).status, 403);
  });
});
