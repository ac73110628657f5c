import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fullScopes, type Scope } from '../../src/domain/scopes.js';
import { TENANT_ROUTES, type RouteCase } from '../helpers/routes.js';
import { seedTenant, startServer, type Tenant, type TestServer } from '../helpers/server.js';

/** Every scope there is except exactly the one the route needs (a write route keeps read). */
function scopesWithout(route: RouteCase): Scope[] {
  return fullScopes().flatMap((scope): Scope[] => {
    if (scope.resource !== route.resource) return [scope];
    return route.access === 'write' ? [{ ...scope, access: 'read' }] : [];
  });
}

describe('scopes are enforced on every route', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  for (const [index, route] of TENANT_ROUTES.entries()) {
    it(`${route.method} #${index} needs ${route.resource}:${route.access}`, async () => {
      // A fresh client whose first key holds every scope, then narrowed by exactly one.
      const tenant = await seedTenant(server, `scopes-${index}.example.com`);
      const keys = await server.call('GET', '/api_keys?per_page=100', { key: tenant.key });
      const firstKey = keys.body.api_keys.find((k: { name: string }) => k.name === 'initial key');
      const narrowed = await server.call('PUT', `/api_keys/${firstKey.id}`, { key: tenant.key, body: { scopes: scopesWithout(route) } });
      assert.equal(narrowed.status, 200, narrowed.text);

      const response = await server.call(route.method, route.path(tenant), { key: tenant.key, body: route.body?.(tenant) });
      assert.equal(response.status, 403, `${response.status} ${response.text}`);
      assert.equal(response.body.title, 'Forbidden');
    });
  }

  describe('targets', () => {
    let tenant: Tenant;
    before(async () => {
      tenant = await seedTenant(server, 'targets.example.com');
    });

    it('a key scoped to one queue reaches that queue, not a sibling', async () => {
      const sibling = await server.call('POST', '/queues', { key: tenant.key, body: { name: 'sibling' } });
      const scoped = await server.call('POST', '/api_keys', {
        key: tenant.key,
        body: { name: 'one-queue', scopes: [{ resource: 'messages', access: 'write', targets: [tenant.queueId] }] },
      });
      const key = scoped.body.api_key as string;
      const publish = (queueId: string) => server.call('POST', `/queues/${queueId}/messages`, { key, body: { data: '{"user":"x"}' } });
      assert.equal((await publish(tenant.queueId)).status, 200);
      assert.equal((await publish(sibling.body.queue.id)).status, 403);
      assert.equal((await server.call('GET', `/queues/${tenant.queueId}/messages`, { key })).status, 200, 'write implies read');
      assert.equal((await server.call('GET', '/messages', { key })).status, 403, 'a top-level list needs a scope on every target');
    });

    it('read access does not allow writes', async () => {
      const scoped = await server.call('POST', '/api_keys', {
        key: tenant.key,
        body: { name: 'reader', scopes: [{ resource: 'queues', access: 'read', targets: ['*'] }] },
      });
      const key = scoped.body.api_key as string;
      assert.equal((await server.call('GET', '/queues', { key })).status, 200);
      assert.equal((await server.call('POST', '/queues', { key, body: { name: 'nope' } })).status, 403);
    });
  });
});
