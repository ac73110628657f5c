// The walkthrough a user does against the published discue v1 API (spec parts A and B), over
// real HTTP against the real server on SQLite: documented shapes (keys present, types right),
// `_links`, both path prefixes, paging, api keys and scopes, events and stats, tenancy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, type ApiResponse, type TestServer } from '../helpers/server.js';

const DAY_MS = 86_400_000;
const LISTENER_URLS = { notify_url: 'http://127.0.0.1:9/notify', liveness_url: 'http://127.0.0.1:9/alive' };

// The usage event types the spec's stats list (every key present, zeros included).
const STAT_KEYS = [
  'api_key_added',
  'api_key_updated',
  'api_key_deleted',
  'queue_added',
  'queue_updated',
  'queue_deleted',
  'listener_added',
  'listener_updated',
  'listener_deleted',
  'message_added',
  'message_published_ok',
  'message_published_not_ok',
] as const;

let server: TestServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server.close();
});

// ---- helpers --------------------------------------------------------------------------------

type Caller = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse>;

/** Calls with one api key (the root key when `key` is undefined). */
function as(key?: string): Caller {
  return (method, path, body, headers) => server.call(method, path, { key, body, headers });
}
const root = as();

function ok(res: ApiResponse, what = ''): any {
  assert.equal(res.status, 200, `${what} expected 200, got ${res.status}: ${res.text}`);
  assert.ok(res.body !== null && typeof res.body === 'object', `${what} body is a JSON object`);
  assertLinks(res.body);
  return res.body;
}

function assertError(res: ApiResponse, status: number, what = ''): void {
  assert.equal(res.status, status, `${what} expected ${status}, got ${res.status}: ${res.text}`);
  assert.equal(typeof res.body?.title, 'string', `${what} error body has a title: ${res.text}`);
  assert.equal(res.body.status, status, `${what} error body carries the status`);
}

/** Every 200 body has `_links` with an absolute `self`. */
function assertLinks(body: any): void {
  assert.ok(body._links && typeof body._links === 'object', `_links present in ${JSON.stringify(body)}`);
  assert.equal(typeof body._links.self?.href, 'string', '_links.self.href is a string');
  assert.match(body._links.self.href, /^https?:\/\//, '_links.self.href is absolute');
  for (const [name, link] of Object.entries<any>(body._links)) {
    assert.equal(typeof link?.href, 'string', `_links.${name}.href is a string`);
  }
}

/** The path and query of a link the server gave, checked to point at this server. */
function pathOf(href: string): string {
  const url = new URL(href);
  assert.equal(url.origin, new URL(server.url).origin, `link ${href} points at this server`);
  return `${url.pathname}${url.search}`;
}

function assertKeys(value: any, keys: readonly string[], what: string): void {
  assert.ok(value !== null && typeof value === 'object', `${what} is an object`);
  for (const key of keys) assert.ok(key in value, `${what} has "${key}": ${JSON.stringify(value)}`);
}

function assertIdName(value: any, what: string): void {
  assertKeys(value, ['id', 'name'], what);
  assert.equal(typeof value.id, 'string', `${what}.id is a string`);
  assert.ok(value.id.length > 0, `${what}.id is not empty`);
  assert.ok(value.name === null || typeof value.name === 'string', `${what}.name is a string or null`);
}

/** `_links[name]` exists and points at `path` (no prefix, as the docs show). */
function assertNamedLink(links: any, name: string, path: string): void {
  assert.ok(links[name], `_links has an entry keyed "${name}": ${JSON.stringify(links)}`);
  assert.ok(pathOf(links[name].href).endsWith(path), `_links["${name}"] ${links[name].href} ends with ${path}`);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** JSON with object keys sorted recursively and no whitespace. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface Tenant {
  id: string;
  name: string;
  key: string;
  call: Caller;
}

let tenantSeq = 0;
/** A new api client created by root, with the secret of its first key. */
async function newTenant(label: string): Promise<Tenant> {
  const name = `walkthrough.example.com/${label}-${++tenantSeq}`;
  const body = ok(await root('POST', '/api_clients', { name }), 'POST /api_clients');
  return { id: body.api_client.id, name, key: body.api_key, call: as(body.api_key) };
}

async function newQueue(t: Tenant, name: string, schema?: unknown): Promise<{ id: string; name: string }> {
  const body = ok(await t.call('POST', '/queues', schema === undefined ? { name } : { name, schema }), `POST /queues ${name}`);
  return body.queue;
}

async function newListener(t: Tenant, queueId: string, name: string): Promise<any> {
  return ok(await t.call('POST', `/queues/${queueId}/listeners`, { name, ...LISTENER_URLS }), `POST listener ${name}`).listener;
}

async function publish(t: Tenant, queueId: string, data: string, name?: string): Promise<{ id: string; name: string | null }> {
  return ok(await t.call('POST', `/queues/${queueId}/messages`, name === undefined ? { data } : { name, data }), 'publish').message;
}

/** Every item of a list, following `_links.next`. */
async function listAll(t: Tenant, path: string, key: string): Promise<any[]> {
  const items: any[] = [];
  let next: string | undefined = `${path}?per_page=100`;
  while (next) {
    const body = ok(await t.call('GET', next), `GET ${next}`);
    assert.ok(Array.isArray(body[key]), `${key} is an array`);
    items.push(...body[key]);
    next = body._links.next ? pathOf(body._links.next.href) : undefined;
  }
  return items;
}

// ---- the walkthrough ------------------------------------------------------------------------

describe('health', () => {
  it('GET /health answers 200 without an api key, at both prefixes', async () => {
    for (const path of ['/health', '/v1/health']) {
      const res = await server.call('GET', path, { key: null });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.ok(res.body !== undefined && typeof res.body === 'object', `${path} answers JSON`);
    }
  });
});

describe('api clients', () => {
  let client: { id: string; name: string };
  let secret: string;

  it('POST /api_clients as root returns {api_client:{id,name}, api_key, _links}', async () => {
    const res = await root('POST', '/api_clients', { name: 'walkthrough.example.com/clients' });
    const body = ok(res, 'POST /api_clients');
    assertIdName(body.api_client, 'api_client');
    assert.equal(body.api_client.name, 'walkthrough.example.com/clients');
    assert.equal(typeof body.api_key, 'string');
    assert.ok(body.api_key.length >= 16, 'the secret is long enough to be a secret');
    assert.ok(pathOf(body._links.self.href).endsWith(`/api_clients/${body.api_client.id}`));
    client = body.api_client;
    secret = body.api_key;
  });

  it('the returned key works', async () => {
    const body = ok(await as(secret)('GET', '/queues'), 'GET /queues with the new key');
    assert.deepEqual(body.queues, []);
    const own = ok(await as(secret)('GET', `/api_clients/${client.id}`), 'GET own api client');
    assert.equal(own.api_client.id, client.id);
  });

  it('a tenant key cannot list api clients (403)', async () => {
    assertError(await as(secret)('GET', '/api_clients'), 403);
  });

  it('GET /api_clients (root) lists it, linked by name', async () => {
    const body = ok(await root('GET', '/api_clients?per_page=100'), 'GET /api_clients');
    assert.ok(Array.isArray(body.api_clients));
    for (const c of body.api_clients) assertIdName(c, 'api_clients[]');
    const listed = body.api_clients.find((c: any) => c.id === client.id);
    assert.ok(listed, 'the new client is listed');
    assert.equal(listed.name, client.name);
    assertNamedLink(body._links, client.name, `/api_clients/${client.id}`);
  });

  it('GET /api_clients/{id} returns it with an ETag', async () => {
    const res = await root('GET', `/api_clients/${client.id}`);
    const body = ok(res);
    assertIdName(body.api_client, 'api_client');
    assert.equal(body.api_client.id, client.id);
    assert.equal(body.api_client.name, client.name);
    assert.ok(res.headers.get('etag'), 'ETag header present');
  });

  it('PUT /api_clients/{id} renames it', async () => {
    const body = ok(await root('PUT', `/api_clients/${client.id}`, { name: 'walkthrough.example.com/renamed' }), 'PUT api client');
    assertIdName(body.api_client, 'api_client');
    assert.equal(body.api_client.id, client.id);
    assert.equal(body.api_client.name, 'walkthrough.example.com/renamed');
    const again = ok(await root('GET', `/api_clients/${client.id}`));
    assert.equal(again.api_client.name, 'walkthrough.example.com/renamed');
  });

  it('Prefer: return=minimal gets the seed form: 204 and no body', async () => {
    const res = await root('POST', '/api_clients', { name: 'walkthrough.example.com/minimal' }, { prefer: 'return=minimal' });
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
  });

  it('DELETE /api_clients/{id} removes it and its key stops working (401)', async () => {
    ok(await root('DELETE', `/api_clients/${client.id}`), 'DELETE api client');
    assertError(await root('GET', `/api_clients/${client.id}`), 404);
    const listed = ok(await root('GET', '/api_clients?per_page=100'));
    assert.ok(!listed.api_clients.some((c: any) => c.id === client.id), 'no longer listed');
    assertError(await as(secret)('GET', '/queues'), 401, 'the deleted client key');
  });
});

describe('both prefixes', () => {
  let t: Tenant;
  before(async () => {
    t = await newTenant('prefixes');
  });

  it('POST /v1/queues creates, and the queue is the same at /queues/{id} and /v1/queues/{id}', async () => {
    const created = ok(await t.call('POST', '/v1/queues', { name: 'v1-queue' }), 'POST /v1/queues');
    assertIdName(created.queue, 'queue');
    const plain = ok(await t.call('GET', `/queues/${created.queue.id}`));
    const prefixed = ok(await t.call('GET', `/v1/queues/${created.queue.id}`));
    assert.deepEqual(prefixed.queue, plain.queue);
    assert.equal(plain.queue.name, 'v1-queue');
    // The self link resolves whichever prefix was used.
    ok(await t.call('GET', pathOf(prefixed._links.self.href)), 'following the /v1 self link');

    const listPlain = ok(await t.call('GET', '/queues'));
    const listPrefixed = ok(await t.call('GET', '/v1/queues'));
    assert.deepEqual(listPrefixed.queues, listPlain.queues);
    assert.ok(listPlain.queues.some((q: any) => q.id === created.queue.id));
  });

  it('messages, listeners, api keys, events, stats and api clients answer at /v1 too', async () => {
    const queue = await newQueue(t, 'both-ways');
    const m1 = ok(await t.call('POST', `/v1/queues/${queue.id}/messages`, { name: 'via-v1', data: 'one' })).message;
    const m2 = ok(await t.call('POST', `/queues/${queue.id}/messages`, { name: 'plain', data: 'two' })).message;
    for (const prefix of ['', '/v1']) {
      const messages = ok(await t.call('GET', `${prefix}/messages`), `${prefix}/messages`).messages;
      assert.deepEqual(new Set(messages.map((m: any) => m.id)), new Set([m1.id, m2.id]), `${prefix}/messages lists both`);
      const one = ok(await t.call('GET', `${prefix}/queues/${queue.id}/messages/${m1.id}`)).message;
      assert.equal(one.data, 'one');
      ok(await t.call('GET', `${prefix}/listeners`), `${prefix}/listeners`);
      ok(await t.call('GET', `${prefix}/api_keys`), `${prefix}/api_keys`);
      ok(await t.call('GET', `${prefix}/events`), `${prefix}/events`);
      ok(await t.call('GET', `${prefix}/stats/messages`), `${prefix}/stats/messages`);
      ok(await root('GET', `${prefix}/api_clients/${t.id}`), `${prefix}/api_clients/{id}`);
    }
  });
});

describe('PUT on a collection creates, like POST', () => {
  let t: Tenant;
  before(async () => {
    t = await newTenant('put-collection');
  });

  it('PUT /queues, PUT /queues/{id}/listeners and PUT /queues/{id}/messages create', async () => {
    const queue = ok(await t.call('PUT', '/queues', { name: 'put-queue' }), 'PUT /queues').queue;
    assertIdName(queue, 'queue');
    assert.equal(queue.name, 'put-queue');
    ok(await t.call('GET', `/queues/${queue.id}`), 'the PUT-created queue exists');

    const listener = ok(await t.call('PUT', `/queues/${queue.id}/listeners`, { name: 'put-listener', ...LISTENER_URLS }), 'PUT listeners').listener;
    assertIdName(listener, 'listener');
    assert.equal(listener.name, 'put-listener');
    ok(await t.call('GET', `/queues/${queue.id}/listeners/${listener.id}`), 'the PUT-created listener exists');

    const message = ok(await t.call('PUT', `/queues/${queue.id}/messages`, { name: 'put-message', data: 'hello' }), 'PUT messages').message;
    assertIdName(message, 'message');
    assert.equal(message.name, 'put-message');
    const got = ok(await t.call('GET', `/queues/${queue.id}/messages/${message.id}`)).message;
    assert.equal(got.data, 'hello');
  });
});

describe('api keys', () => {
  let t: Tenant;
  let secret: string;
  let keyId: string;

  before(async () => {
    t = await newTenant('keys');
  });

  const findKey = async (name: string) => {
    const keys = await listAll(t, '/api_keys', 'api_keys');
    const key = keys.find((k) => k.name === name);
    assert.ok(key, `api key ${name} is listed`);
    return key;
  };

  it('POST /api_keys returns the secret once, as the string api_key', async () => {
    const body = ok(await t.call('POST', '/api_keys', { name: 'walk-key' }), 'POST /api_keys');
    assert.equal(typeof body.api_key, 'string');
    assert.ok(body.api_key.length >= 16);
    secret = body.api_key;
    keyId = (await findKey('walk-key')).id;
  });

  it('GET /api_keys shows every documented field, key = first 3 characters, never the secret or its hash', async () => {
    const res = await t.call('GET', '/api_keys?per_page=100');
    const body = ok(res);
    assert.ok(Array.isArray(body.api_keys));
    for (const k of body.api_keys) {
      assertKeys(k, ['id', 'name', 'created_at', 'updated_at', 'last_used_at', 'key', 'status', 'scopes'], 'api_keys[]');
      assert.equal(typeof k.id, 'string');
      assert.equal(typeof k.name, 'string');
      assert.equal(typeof k.created_at, 'number');
      assert.equal(typeof k.updated_at, 'number');
      assert.ok(k.last_used_at === null || typeof k.last_used_at === 'number', 'last_used_at is null or a number');
      assert.equal(typeof k.key, 'string');
      assert.equal(k.key.length, 3, 'key shows 3 characters only');
      assert.ok(k.status === 'enabled' || k.status === 'disabled');
      assert.ok(Array.isArray(k.scopes));
    }
    const mine = body.api_keys.find((k: any) => k.id === keyId);
    assert.equal(mine.key, secret.slice(0, 3));
    assert.equal(mine.name, 'walk-key');
    assert.equal(mine.status, 'enabled');
    assert.ok(Math.abs(mine.created_at - Date.now()) < DAY_MS, 'created_at is epoch milliseconds');
    for (const s of [secret, t.key]) {
      assert.ok(!res.text.includes(s), 'the secret is not in the body');
      assert.ok(!res.text.includes(sha256(s)), 'the hash of the secret is not in the body');
      assert.ok(!res.text.includes(s.slice(0, 12)), 'no long prefix of the secret is in the body');
    }
    assertNamedLink(body._links, 'walk-key', `/api_keys/${keyId}`);
  });

  it('GET /api_keys/{id} is redacted the same way, with an ETag', async () => {
    const res = await t.call('GET', `/api_keys/${keyId}`);
    const body = ok(res);
    assertKeys(body.api_key, ['id', 'name', 'created_at', 'updated_at', 'last_used_at', 'key', 'status', 'scopes'], 'api_key');
    assert.equal(body.api_key.key, secret.slice(0, 3));
    assert.ok(!res.text.includes(secret));
    assert.ok(!res.text.includes(sha256(secret)));
    assert.ok(res.headers.get('etag'), 'ETag header present');
  });

  it('default scopes are permissive but hold no protected resource', async () => {
    const { scopes } = await findKey('walk-key');
    for (const s of scopes) {
      assertKeys(s, ['resource', 'access', 'targets'], 'scope');
      assert.ok(s.access === 'read' || s.access === 'write');
      assert.ok(Array.isArray(s.targets));
    }
    const resources = scopes.map((s: any) => s.resource);
    for (const protectedResource of ['api_clients', 'api_keys', 'subscriptions']) {
      assert.ok(!resources.includes(protectedResource), `no ${protectedResource} scope by default`);
    }
    for (const resource of ['events', 'queues', 'listeners', 'messages', 'schemas', 'stats']) {
      assert.ok(
        scopes.some((s: any) => s.resource === resource && s.access === 'write' && s.targets.includes('*')),
        `${resource} write on every target by default: ${JSON.stringify(scopes)}`,
      );
    }
  });

  it('using a key updates last_used_at, visible right after', async () => {
    const before = (await findKey('walk-key')).last_used_at;
    assert.equal(before, null, 'never used yet');
    const usedAt = Date.now();
    ok(await as(secret)('GET', '/queues'), 'using the new key');
    const after = ok(await t.call('GET', `/api_keys/${keyId}`)).api_key.last_used_at;
    assert.equal(typeof after, 'number');
    assert.ok(after >= usedAt - 1000 && after <= Date.now() + 1000, `last_used_at ${after} is about now (${usedAt})`);
  });

  it('PUT /api_keys/{id} replaces scopes wholesale', async () => {
    const scopes = [{ resource: 'queues', access: 'read', targets: ['*'] }];
    const body = ok(await t.call('PUT', `/api_keys/${keyId}`, { scopes }), 'PUT api key');
    assert.deepEqual(body.api_key.scopes, scopes);
    assert.deepEqual((await findKey('walk-key')).scopes, scopes);
    // The narrowed key now reads queues but cannot create one.
    ok(await as(secret)('GET', '/queues'));
    assertError(await as(secret)('POST', '/queues', { name: 'not-allowed' }), 403);
  });

  it('a messages-write key targeting one queue publishes there and gets 403 on another queue', async () => {
    const q1 = await newQueue(t, 'target-one');
    const q2 = await newQueue(t, 'target-two');
    const created = ok(
      await t.call('POST', '/api_keys', { name: 'q1-publisher', scopes: [{ resource: 'messages', access: 'write', targets: [q1.id] }] }),
      'POST scoped api key',
    );
    const publisher = as(created.api_key);
    const published = ok(await publisher('POST', `/queues/${q1.id}/messages`, { data: 'allowed' }), 'publish to the target queue');
    assertIdName(published.message, 'message');
    assertError(await publisher('POST', `/queues/${q2.id}/messages`, { data: 'refused' }), 403, 'publish to another queue');
    const q2messages = ok(await t.call('GET', `/queues/${q2.id}/messages`)).messages;
    assert.deepEqual(q2messages, [], 'nothing was stored in the other queue');
  });

  it('DELETE /api_keys/{id} removes the key; it stops working (401)', async () => {
    ok(await t.call('DELETE', `/api_keys/${keyId}`), 'DELETE api key');
    assertError(await t.call('GET', `/api_keys/${keyId}`), 404);
    assertError(await as(secret)('GET', '/queues'), 401);
  });
});

describe('queues and schemas', () => {
  let t: Tenant;
  before(async () => {
    t = await newTenant('queues');
  });

  // Keys deliberately unsorted: the id is over canonical JSON.
  const schema = { user: { type: 'string', required: true }, age: { type: 'number', min: 0, required: false } };
  const expectedSchemaId = sha256(canonical(schema));
  let queueId: string;

  it('POST /queues with a schema returns it', async () => {
    const res = await t.call('POST', '/queues', { name: 'with-schema', schema });
    const body = ok(res, 'POST /queues');
    assertIdName(body.queue, 'queue');
    assert.equal(body.queue.name, 'with-schema');
    assert.deepEqual(body.queue.schema, schema);
    queueId = body.queue.id;
  });

  it('a duplicate queue name is refused (422)', async () => {
    assertError(await t.call('POST', '/queues', { name: 'with-schema' }), 422);
  });

  it('GET /queues/{id} lists listeners as {id,name} and links them by name', async () => {
    const l1 = await newListener(t, queueId, 'myapp.io/first-listener');
    const l2 = await newListener(t, queueId, 'myapp.io/second-listener');
    const res = await t.call('GET', `/queues/${queueId}`);
    const body = ok(res);
    assertIdName(body.queue, 'queue');
    assert.deepEqual(body.queue.schema, schema);
    assert.ok(Array.isArray(body.queue.listeners));
    for (const l of body.queue.listeners) assertIdName(l, 'queue.listeners[]');
    assert.deepEqual(
      body.queue.listeners.map((l: any) => ({ id: l.id, name: l.name })).sort((a: any, b: any) => a.name.localeCompare(b.name)),
      [
        { id: l1.id, name: l1.name },
        { id: l2.id, name: l2.name },
      ],
    );
    assertNamedLink(body._links, l1.name, `/queues/${queueId}/listeners/${l1.id}`);
    assertNamedLink(body._links, l2.name, `/queues/${queueId}/listeners/${l2.id}`);
    assert.ok(pathOf(body._links.self.href).endsWith(`/queues/${queueId}`));
    assert.ok(res.headers.get('etag'), 'ETag header present');
  });

  it('GET /queues lists {id,name} linked by queue name', async () => {
    const body = ok(await t.call('GET', '/queues'));
    assert.ok(Array.isArray(body.queues));
    for (const q of body.queues) assertIdName(q, 'queues[]');
    assert.ok(body.queues.some((q: any) => q.id === queueId));
    assertNamedLink(body._links, 'with-schema', `/queues/${queueId}`);
  });

  it('the schema id is the sha256 hex of the canonical JSON; GET /queues/{id}/schemas/{schema_id} returns it', async () => {
    const queue = ok(await t.call('GET', `/queues/${queueId}`)).queue;
    if ('schema_id' in queue) assert.equal(queue.schema_id, expectedSchemaId);
    const res = await t.call('GET', `/queues/${queueId}/schemas/${expectedSchemaId}`);
    const body = ok(res, 'GET schema');
    assert.deepEqual(body.schema, schema);
    assert.ok(pathOf(body._links.self.href).endsWith(`/queues/${queueId}/schemas/${expectedSchemaId}`));
    assert.ok(res.headers.get('etag'), 'ETag header present');
    assertError(await t.call('GET', `/queues/${queueId}/schemas/${sha256('something else')}`), 404);
  });

  it('the schema is enforced: non-JSON and invalid data are refused (422), valid data accepted', async () => {
    assertError(await t.call('POST', `/queues/${queueId}/messages`, { data: 'not json' }), 422);
    assertError(await t.call('POST', `/queues/${queueId}/messages`, { data: '{"user":42}' }), 422);
    await publish(t, queueId, '{"user":"ann","age":3}');
  });

  it('PUT /queues/{id} with schema: null removes the schema; then non-JSON data is accepted', async () => {
    const body = ok(await t.call('PUT', `/queues/${queueId}`, { schema: null }), 'PUT schema null');
    assert.equal(body.queue.id, queueId);
    assert.ok(body.queue.schema === undefined || body.queue.schema === null, `schema removed: ${JSON.stringify(body.queue)}`);
    const got = ok(await t.call('GET', `/queues/${queueId}`)).queue;
    assert.ok(got.schema === undefined || got.schema === null, 'schema removed on GET');
    assertError(await t.call('GET', `/queues/${queueId}/schemas/${expectedSchemaId}`), 404);
    await publish(t, queueId, 'not json at all');
  });

  it('PUT /queues/{id} renames', async () => {
    const body = ok(await t.call('PUT', `/queues/${queueId}`, { name: 'renamed-queue' }));
    assert.equal(body.queue.name, 'renamed-queue');
    assert.equal(ok(await t.call('GET', `/queues/${queueId}`)).queue.name, 'renamed-queue');
  });

  it('DELETE /queues/{id} removes the queue with its listeners and messages', async () => {
    const doomed = await newQueue(t, 'doomed');
    const keep = await newQueue(t, 'kept');
    const doomedListener = await newListener(t, doomed.id, 'doomed-listener');
    const keptListener = await newListener(t, keep.id, 'kept-listener');
    const m1 = await publish(t, doomed.id, 'a');
    const m2 = await publish(t, doomed.id, 'b');
    const kept = await publish(t, keep.id, 'c');

    ok(await t.call('DELETE', `/queues/${doomed.id}`), 'DELETE queue');
    assertError(await t.call('GET', `/queues/${doomed.id}`), 404);
    assertError(await t.call('GET', `/queues/${doomed.id}/messages/${m1.id}`), 404);
    assertError(await t.call('GET', `/queues/${doomed.id}/listeners/${doomedListener.id}`), 404);

    const messageIds = (await listAll(t, '/messages', 'messages')).map((m) => m.id);
    assert.ok(!messageIds.includes(m1.id) && !messageIds.includes(m2.id), 'the queue’s messages are gone from GET /messages');
    assert.ok(messageIds.includes(kept.id), 'other queues keep their messages');
    const listenerIds = (await listAll(t, '/listeners', 'listeners')).map((l) => l.id);
    assert.ok(!listenerIds.includes(doomedListener.id), 'the queue’s listeners are gone from GET /listeners');
    assert.ok(listenerIds.includes(keptListener.id), 'other queues keep their listeners');
    const queueIds = (await listAll(t, '/queues', 'queues')).map((q) => q.id);
    assert.ok(!queueIds.includes(doomed.id));
  });
});

describe('listeners', () => {
  let t: Tenant;
  let qa: { id: string };
  let qb: { id: string };
  let la: any;
  let lb: any;

  before(async () => {
    t = await newTenant('listeners');
    qa = await newQueue(t, 'listeners-a');
    qb = await newQueue(t, 'listeners-b');
  });

  /** The documented listener shape L. */
  function assertListener(l: any, what: string): void {
    assertKeys(l, ['id', 'name', 'liveness', 'messages', 'notify_url', 'liveness_url'], what);
    assertIdName(l, what);
    assert.equal(typeof l.notify_url, 'string');
    assert.equal(typeof l.liveness_url, 'string');
    assertKeys(l.liveness, ['state', 'success_count', 'failure_count'], `${what}.liveness`);
    assert.ok(['stable', 'unstable', 'dead'].includes(l.liveness.state), `liveness.state ${l.liveness.state}`);
    assert.equal(typeof l.liveness.success_count, 'number');
    assert.equal(typeof l.liveness.failure_count, 'number');
    assertKeys(l.messages, ['acknowledged_count', 'missed', 'missed_count'], `${what}.messages`);
    assert.equal(typeof l.messages.acknowledged_count, 'number');
    assert.ok(Array.isArray(l.messages.missed));
    assert.equal(typeof l.messages.missed_count, 'number');
    assert.ok(!('secret' in l), `${what} does not carry the secret`);
  }

  it('creating a listener returns {id,name} and a whsec_ secret', async () => {
    const body = ok(await t.call('POST', `/queues/${qa.id}/listeners`, { name: 'listener-a', ...LISTENER_URLS }));
    assertIdName(body.listener, 'listener');
    assert.equal(body.listener.name, 'listener-a');
    assert.equal(typeof body.listener.secret, 'string');
    assert.ok(body.listener.secret.startsWith('whsec_'), body.listener.secret);
    la = body.listener;
    lb = await newListener(t, qb.id, 'listener-b');
    assert.ok(lb.secret.startsWith('whsec_'));
    assert.notEqual(la.secret, lb.secret);
  });

  it('GET /queues/{id}/listeners/{id} has the documented shape and no secret', async () => {
    const res = await t.call('GET', `/queues/${qa.id}/listeners/${la.id}`);
    const body = ok(res);
    assertListener(body.listener, 'listener');
    assert.equal(body.listener.id, la.id);
    assert.equal(body.listener.notify_url, LISTENER_URLS.notify_url);
    assert.equal(body.listener.liveness_url, LISTENER_URLS.liveness_url);
    assert.deepEqual(body.listener.messages.missed, []);
    assert.equal(body.listener.messages.missed_count, 0);
    assert.ok(!res.text.includes(la.secret), 'the secret is not in the GET body');
    assert.ok(res.headers.get('etag'), 'ETag header present');
  });

  it('GET /queues/{id}/listeners and GET /listeners (all queues) list L without secrets', async () => {
    const perQueue = await t.call('GET', `/queues/${qa.id}/listeners`);
    const perQueueBody = ok(perQueue);
    assert.deepEqual(perQueueBody.listeners.map((l: any) => l.id), [la.id]);
    for (const l of perQueueBody.listeners) assertListener(l, 'listeners[]');
    assertNamedLink(perQueueBody._links, 'listener-a', `/queues/${qa.id}/listeners/${la.id}`);

    const all = await t.call('GET', '/listeners');
    const allBody = ok(all);
    assert.deepEqual(new Set(allBody.listeners.map((l: any) => l.id)), new Set([la.id, lb.id]));
    for (const l of allBody.listeners) assertListener(l, 'listeners[]');
    assertNamedLink(allBody._links, 'listener-b', `/queues/${qb.id}/listeners/${lb.id}`);
    for (const res of [perQueue, all]) {
      assert.ok(!res.text.includes(la.secret) && !res.text.includes(lb.secret), 'no secret in lists');
      assert.ok(!res.text.includes('whsec_'), 'no secret in lists');
    }
    const queue = await t.call('GET', `/queues/${qa.id}`);
    assert.ok(!queue.text.includes('whsec_'), 'no secret in the queue');
  });

  it('PUT changes notify_url', async () => {
    const url = 'http://127.0.0.1:9/elsewhere';
    const res = await t.call('PUT', `/queues/${qa.id}/listeners/${la.id}`, { notify_url: url });
    const body = ok(res);
    assertListener(body.listener, 'listener');
    assert.equal(body.listener.notify_url, url);
    assert.equal(body.listener.liveness_url, LISTENER_URLS.liveness_url);
    assert.ok(!res.text.includes(la.secret));
    assert.equal(ok(await t.call('GET', `/queues/${qa.id}/listeners/${la.id}`)).listener.notify_url, url);
  });

  it('DELETE removes a listener', async () => {
    ok(await t.call('DELETE', `/queues/${qb.id}/listeners/${lb.id}`));
    assertError(await t.call('GET', `/queues/${qb.id}/listeners/${lb.id}`), 404);
    assert.deepEqual(ok(await t.call('GET', '/listeners')).listeners.map((l: any) => l.id), [la.id]);
  });
});

describe('messages', () => {
  let t: Tenant;
  let q1: { id: string };
  let q2: { id: string };
  let m1: { id: string; name: string | null };
  let m2: { id: string; name: string | null };

  before(async () => {
    t = await newTenant('messages');
    q1 = await newQueue(t, 'messages-1');
    q2 = await newQueue(t, 'messages-2');
  });

  it('publishing returns {message:{id,name}}', async () => {
    const body = ok(await t.call('POST', `/queues/${q1.id}/messages`, { name: 'first', data: 'payload one' }));
    assertIdName(body.message, 'message');
    assert.equal(body.message.name, 'first');
    m1 = body.message;
    m2 = await publish(t, q2.id, 'payload two', 'second');
  });

  it('GET /queues/{id}/messages/{id} returns the data', async () => {
    const res = await t.call('GET', `/queues/${q1.id}/messages/${m1.id}`);
    const body = ok(res);
    assertIdName(body.message, 'message');
    assert.equal(body.message.id, m1.id);
    assert.equal(body.message.name, 'first');
    assert.equal(body.message.data, 'payload one');
    assert.ok(res.headers.get('etag'), 'ETag header present');
  });

  it('GET /messages lists across queues; GET /queues/{id}/messages only that queue', async () => {
    const all = ok(await t.call('GET', '/messages'));
    for (const m of all.messages) assertIdName(m, 'messages[]');
    assert.deepEqual(new Set(all.messages.map((m: any) => m.id)), new Set([m1.id, m2.id]));
    assertNamedLink(all._links, 'first', `/queues/${q1.id}/messages/${m1.id}`);
    const one = ok(await t.call('GET', `/queues/${q2.id}/messages`));
    assert.deepEqual(one.messages.map((m: any) => m.id), [m2.id]);
  });

  it('PUT renames a message', async () => {
    const body = ok(await t.call('PUT', `/queues/${q1.id}/messages/${m1.id}`, { name: 'renamed' }));
    assertIdName(body.message, 'message');
    assert.equal(body.message.name, 'renamed');
    const got = ok(await t.call('GET', `/queues/${q1.id}/messages/${m1.id}`)).message;
    assert.equal(got.name, 'renamed');
    assert.equal(got.data, 'payload one');
  });

  it('DELETE removes a message forever', async () => {
    ok(await t.call('DELETE', `/queues/${q2.id}/messages/${m2.id}`));
    assertError(await t.call('GET', `/queues/${q2.id}/messages/${m2.id}`), 404);
    assert.deepEqual(ok(await t.call('GET', '/messages')).messages.map((m: any) => m.id), [m1.id]);
  });

  it('unicode data and names round-trip', async () => {
    const data = 'héllo wörld · 日本語 · עברית · 🌍🚀 · e\u0301 · \u2028\u2029 · "quotes" \\ backslash';
    const name = 'naïve-名前-🦄';
    const published = await publish(t, q1.id, data, name);
    assert.equal(published.name, name);
    const got = ok(await t.call('GET', `/queues/${q1.id}/messages/${published.id}`)).message;
    assert.equal(got.data, data);
    assert.equal(got.name, name);
  });

  it('a message without a name is published; data is required (400)', async () => {
    const anonymous = await publish(t, q1.id, 'no name');
    assert.ok('name' in anonymous);
    assertError(await t.call('POST', `/queues/${q1.id}/messages`, { name: 'no data' }), 400);
  });
});

describe('paging', () => {
  let t: Tenant;
  let allIds: string[];

  before(async () => {
    t = await newTenant('paging');
    for (let i = 1; i <= 25; i++) await newQueue(t, `page-queue-${String(i).padStart(2, '0')}`);
  });

  it('per_page=100 returns all 25 with no next', async () => {
    const body = ok(await t.call('GET', '/queues?per_page=100'));
    assert.equal(body.queues.length, 25);
    assert.equal(body._links.next, undefined);
    allIds = body.queues.map((q: any) => q.id);
    assert.equal(new Set(allIds).size, 25);
  });

  it('the default page has 10 and a next link, no prev', async () => {
    const body = ok(await t.call('GET', '/queues'));
    assert.equal(body.queues.length, 10);
    assert.ok(body._links.next, '_links.next present');
    assert.equal(body._links.prev, undefined);
    assert.deepEqual(body.queues.map((q: any) => q.id), allIds.slice(0, 10));
  });

  it('page=3 has the last 5, a prev link and no next', async () => {
    const body = ok(await t.call('GET', '/queues?page=3'));
    assert.equal(body.queues.length, 5);
    assert.ok(body._links.prev, '_links.prev present');
    assert.equal(body._links.next, undefined);
    assert.deepEqual(body.queues.map((q: any) => q.id), allIds.slice(20));
    const prev = ok(await t.call('GET', pathOf(body._links.prev.href)));
    assert.deepEqual(prev.queues.map((q: any) => q.id), allIds.slice(10, 20));
  });

  it('following _links.next walks every page without overlap', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/queues';
    let pages = 0;
    while (path) {
      const body = ok(await t.call('GET', path), `GET ${path}`);
      seen.push(...body.queues.map((q: any) => q.id));
      path = body._links.next ? pathOf(body._links.next.href) : undefined;
      assert.ok(++pages <= 3, 'three pages at most');
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, allIds);
  });

  it('paging also works at /v1 and keeps per_page in the links', async () => {
    const body = ok(await t.call('GET', '/v1/queues?per_page=20'));
    assert.equal(body.queues.length, 20);
    const next = ok(await t.call('GET', pathOf(body._links.next.href)));
    assert.deepEqual(next.queues.map((q: any) => q.id), allIds.slice(20));
  });
});

describe('pretty, ETag', () => {
  let t: Tenant;
  let queue: { id: string; name: string };

  before(async () => {
    t = await newTenant('pretty');
    queue = await newQueue(t, 'pretty-queue', { user: { type: 'string' } });
  });

  it('?pretty=true returns indented JSON that parses to the same object', async () => {
    for (const path of [`/queues/${queue.id}`, '/queues', '/v1/queues', '/events', '/stats/messages']) {
      const plain = await t.call('GET', path);
      const pretty = await t.call('GET', `${path}?pretty=true`);
      ok(pretty, `${path}?pretty=true`);
      assert.ok(pretty.text.includes('\n  "'), `${path}?pretty=true is indented with two spaces: ${pretty.text.slice(0, 80)}`);
      assert.deepEqual(pretty.body, plain.body, `${path}: same object`);
    }
    const error = await t.call('GET', '/queues/no-such-queue?pretty=true');
    assertError(error, 404);
    assert.ok(error.text.includes('\n  "'), 'errors are indented too');
  });

  it('single-resource GETs carry an ETag header', async () => {
    const listener = await newListener(t, queue.id, 'etag-listener');
    const message = await publish(t, queue.id, '{"user":"x"}');
    ok(await t.call('POST', '/api_keys', { name: 'etag-key' }));
    const keyId = (await listAll(t, '/api_keys', 'api_keys')).find((k) => k.name === 'etag-key').id;
    const schemaId = sha256(canonical({ user: { type: 'string' } }));
    const paths: [Caller, string][] = [
      [t.call, `/queues/${queue.id}`],
      [t.call, `/queues/${queue.id}/listeners/${listener.id}`],
      [t.call, `/queues/${queue.id}/messages/${message.id}`],
      [t.call, `/queues/${queue.id}/schemas/${schemaId}`],
      [t.call, `/api_keys/${keyId}`],
      [t.call, `/api_clients/${t.id}`],
      [root, `/api_clients/${t.id}`],
    ];
    for (const [caller, path] of paths) {
      const res = await caller('GET', path);
      ok(res, path);
      const etag = res.headers.get('etag');
      assert.ok(etag && /^(W\/)?".+"$/.test(etag), `${path} has a quoted ETag, got ${etag}`);
    }
  });
});

describe('events and stats', () => {
  let a: Tenant;
  const dayAtStart = Math.floor(Date.now() / DAY_MS);
  let keyId: string;
  let q1: { id: string; name: string };
  let q2: { id: string; name: string };
  let listener: { id: string; name: string };
  const messages: { id: string; name: string | null }[] = [];

  before(async () => {
    a = await newTenant('events');
    ok(await a.call('POST', '/api_keys', { name: 'events-key' }));
    keyId = (await listAll(a, '/api_keys', 'api_keys')).find((k) => k.name === 'events-key').id;
    q1 = await newQueue(a, 'events-q1');
    q2 = await newQueue(a, 'events-q2');
    ok(await a.call('PUT', `/queues/${q2.id}`, { name: 'events-q2-renamed' }));
    for (let i = 1; i <= 3; i++) messages.push(await publish(a, q1.id, `event data ${i}`, `event-message-${i}`));
    // Created after the messages, so nothing is broadcast to it and no delivery event can follow.
    listener = await newListener(a, q1.id, 'events-listener');
  });

  function assertEvent(e: any): void {
    assertKeys(e, ['id', 'type', 'stored_at', 'client'], 'event');
    assert.equal(typeof e.id, 'string');
    assert.equal(typeof e.type, 'string');
    assert.equal(typeof e.stored_at, 'number');
    assert.ok(Math.abs(e.stored_at - Date.now()) < DAY_MS, 'stored_at is epoch ms of the past day');
    assertKeys(e.client, ['id'], 'event.client');
    for (const refKey of ['message', 'api_key', 'queue', 'listener']) {
      if (refKey in e) assertIdName(e[refKey], `event.${refKey}`);
    }
  }

  const countTypes = (events: any[]) => events.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.type]: (acc[e.type] ?? 0) + 1 }), {});

  it('GET /events lists the mutations with their refs', async () => {
    const body = ok(await a.call('GET', '/events'));
    assert.ok(Array.isArray(body.events));
    for (const e of body.events) {
      assertEvent(e);
      assert.equal(e.client.id, a.id);
    }
    // The client's first key counts as an added key too.
    assert.deepEqual(countTypes(body.events), { api_key_added: 2, queue_added: 2, queue_updated: 1, message_added: 3, listener_added: 1 });

    const apiKeyAdded = body.events.find((e: any) => e.type === 'api_key_added' && e.api_key.name === 'events-key');
    assert.deepEqual(apiKeyAdded.api_key, { id: keyId, name: 'events-key' });
    const queuesAdded = body.events.filter((e: any) => e.type === 'queue_added').map((e: any) => e.queue);
    assert.deepEqual(new Set(queuesAdded.map((r: any) => `${r.id}:${r.name}`)), new Set([`${q1.id}:${q1.name}`, `${q2.id}:${q2.name}`]));
    const queueUpdated = body.events.find((e: any) => e.type === 'queue_updated');
    assert.equal(queueUpdated.queue.id, q2.id);
    const messagesAdded = body.events.filter((e: any) => e.type === 'message_added');
    assert.deepEqual(
      new Set(messagesAdded.map((e: any) => `${e.message.id}:${e.message.name}`)),
      new Set(messages.map((m) => `${m.id}:${m.name}`)),
    );
    const listenerAdded = body.events.find((e: any) => e.type === 'listener_added');
    assert.deepEqual(listenerAdded.listener, { id: listener.id, name: listener.name });

    // Chronological, ids unique.
    const times = body.events.map((e: any) => e.stored_at);
    assert.deepEqual(times, [...times].sort((x, y) => x - y));
    assert.equal(new Set(body.events.map((e: any) => e.id)).size, body.events.length);
  });

  it('events=queues returns queue events only', async () => {
    const body = ok(await a.call('GET', '/events?events=queues'));
    assert.equal(body.events.length, 3);
    for (const e of body.events) {
      assertEvent(e);
      assert.match(e.type, /^queue_/);
      assertIdName(e.queue, 'event.queue');
    }
    const messageEvents = ok(await a.call('GET', '/events?events=messages')).events;
    assert.equal(messageEvents.length, 3);
    for (const e of messageEvents) assert.match(e.type, /^message_/);
  });

  it('limit=2 returns 2 events and a next cursor that continues without overlap', async () => {
    const all = ok(await a.call('GET', '/events')).events.map((e: any) => e.id);
    assert.equal(all.length, 9);

    const first = ok(await a.call('GET', '/events?limit=2'));
    assert.equal(first.events.length, 2);
    assert.deepEqual(first.events.map((e: any) => e.id), all.slice(0, 2));
    assert.ok(first._links.next, '_links.next present');
    const nextUrl = new URL(first._links.next.href);
    const last = first.events[1];
    assert.equal(nextUrl.searchParams.get('startAfter'), String(last.stored_at));
    assert.equal(nextUrl.searchParams.get('startAfterId'), last.id);

    const second = ok(await a.call('GET', pathOf(first._links.next.href)));
    assert.equal(second.events.length, 2);
    assert.deepEqual(second.events.map((e: any) => e.id), all.slice(2, 4));

    // The cursor built by hand from the last event works the same.
    const manual = ok(await a.call('GET', `/events?limit=100&startAfter=${last.stored_at}&startAfterId=${encodeURIComponent(last.id)}`));
    assert.deepEqual(manual.events.map((e: any) => e.id), all.slice(2));

    // Walking the whole list two by two visits every event exactly once.
    const walked: string[] = [];
    let path: string | undefined = '/events?limit=2';
    for (let guard = 0; path && guard < 10; guard++) {
      const page = ok(await a.call('GET', path));
      walked.push(...page.events.map((e: any) => e.id));
      path = page._links.next ? pathOf(page._links.next.href) : undefined;
    }
    assert.deepEqual(walked, all);
  });

  it('GET /stats/messages counts every documented type in each window, matching what was done', async () => {
    const body = ok(await a.call('GET', '/stats/messages'));
    const stats = body.aggregated_api_usage_events;
    assertKeys(stats, ['last_24_hours', 'last_1_hours', 'today_so_far'], 'aggregated_api_usage_events');
    const expected: Record<string, number> = { api_key_added: 2, queue_added: 2, queue_updated: 1, listener_added: 1, message_added: 3 };
    const sameDay = Math.floor(Date.now() / DAY_MS) === dayAtStart;
    for (const window of ['last_24_hours', 'last_1_hours', 'today_so_far']) {
      const counts = stats[window];
      assertKeys(counts, STAT_KEYS, window);
      for (const key of STAT_KEYS) {
        assert.equal(typeof counts[key], 'number', `${window}.${key} is a number`);
        if (key === 'message_published_ok' || key === 'message_published_not_ok') continue;
        if (window === 'today_so_far' && !sameDay) continue; // the test crossed UTC midnight
        assert.equal(counts[key], expected[key] ?? 0, `${window}.${key}`);
      }
    }
  });

  describe('tenants are separate', () => {
    let b: Tenant;
    let bQueue: { id: string; name: string };

    before(async () => {
      b = await newTenant('events-b');
      bQueue = await newQueue(b, 'b-queue');
    });

    it('tenant B sees only its own events', async () => {
      const aIds = new Set(ok(await a.call('GET', '/events')).events.map((e: any) => e.id));
      const events = ok(await b.call('GET', '/events')).events;
      assert.deepEqual(events.map((e: any) => e.type), ['api_key_added', 'queue_added']);
      assert.ok(events.every((e: any) => e.client.id === b.id));
      assert.deepEqual(events[1].queue, { id: bQueue.id, name: bQueue.name });
      for (const e of events) assert.ok(!aIds.has(e.id), 'no event of tenant A');
      for (const category of ['listeners', 'messages']) {
        assert.deepEqual(ok(await b.call('GET', `/events?events=${category}`)).events, [], `B has no ${category} events`);
      }
      // And A does not see B's.
      const aEvents = ok(await a.call('GET', '/events')).events;
      assert.ok(aEvents.every((e: any) => e.client.id === a.id));
      assert.equal(aEvents.length, 9);
    });

    it("tenant B's stats count only its own events; A's are unchanged", async () => {
      const bStats = ok(await b.call('GET', '/stats/messages')).aggregated_api_usage_events;
      for (const window of ['last_24_hours', 'last_1_hours']) {
        for (const key of STAT_KEYS) assert.equal(bStats[window][key], key === 'queue_added' || key === 'api_key_added' ? 1 : 0, `B ${window}.${key}`);
      }
      const aStats = ok(await a.call('GET', '/stats/messages')).aggregated_api_usage_events;
      assert.equal(aStats.last_24_hours.message_added, 3);
      assert.equal(aStats.last_24_hours.queue_added, 2);
    });

    it("tenant B cannot see A's resources (404)", async () => {
      assertError(await b.call('GET', `/queues/${q1.id}`), 404);
      assertError(await b.call('GET', `/queues/${q1.id}/messages/${messages[0]!.id}`), 404);
      assertError(await b.call('GET', `/api_keys/${keyId}`), 404);
      assertError(await b.call('GET', `/api_clients/${a.id}`), 404);
    });
  });
});
