// Every status code of the contract's table B.3, each triggered for real over HTTP.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ensureRootKey } from '../../src/root-key.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';
import { call, ROOT_KEY, seedTenant, startServer, type ApiResponse, type Tenant, type TestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function assertJsonContentType(contentType: string | null | undefined): void {
  assert.match(String(contentType), /^application\/json\b/i, `content-type was ${contentType}`);
}

/** The status, JSON content type, and the error shape `{title: <reason phrase>, status}`. */
function assertError(res: ApiResponse, status: number): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assertJsonContentType(res.headers.get('content-type'));
  assert.equal(res.body?.title, STATUS_CODES[status]);
  assert.equal(res.body?.status, status);
}

function assertOk(res: ApiResponse): void {
  assert.equal(res.status, 200, `expected 200, got ${res.status}: ${res.text}`);
  assertJsonContentType(res.headers.get('content-type'));
}

/** Paths of the field errors of a response (its `errors` array). */
function errorPaths(res: ApiResponse): string[] {
  assert.ok(Array.isArray(res.body?.errors), `no errors array in ${res.text}`);
  return (res.body.errors as { path: string }[]).map((e) => e.path);
}

function toApiResponse(status: number, headers: Headers, text: string): ApiResponse {
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, headers, body, text };
}

/** A request through node:http: any method, and exactly the headers given (fetch adds Accept). */
function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const received = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) received.set(name, String(value));
        resolve(toApiResponse(res.statusCode ?? 0, received, text));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Splits what a server sent on one connection into its HTTP/1.1 responses (ASCII bodies). */
function parseResponses(raw: string): ApiResponse[] {
  const responses: ApiResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine = '', ...headerLines] = rest.slice(0, headEnd).split('\r\n');
    const headers = new Headers();
    for (const line of headerLines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
    const length = Number(headers.get('content-length') ?? rest.length - headEnd - 4);
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1] ?? 0);
    responses.push(toApiResponse(status, headers, rest.slice(headEnd + 4, headEnd + 4 + length)));
    rest = rest.slice(headEnd + 4 + length);
  }
  return responses;
}

interface RawConnection {
  write(bytes: string): void;
  /** Every response, once the server has closed the connection. */
  responses: Promise<ApiResponse[]>;
}

async function openConnection(baseUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const responses = once(socket, 'close').then(() => parseResponses(received));
  return { write: (bytes) => socket.write(bytes), responses };
}

async function newClient(server: TestServer, name: string): Promise<{ id: string; key: string }> {
  const res = await server.call('POST', '/api_clients', { body: { name } });
  assertOk(res);
  return { id: res.body.api_client.id, key: res.body.api_key };
}

async function newKey(server: TestServer, ownerKey: string, body: Record<string, unknown>): Promise<string> {
  const res = await server.call('POST', '/api_keys', { key: ownerKey, body });
  assertOk(res);
  return res.body.api_key as string;
}

interface OwnServer {
  url: string;
  app: FastifyInstance;
  store: SqliteStore;
  /** Starts closing the app (once); resolves when it has closed. */
  closeApp(): Promise<void>;
  close(): Promise<void>;
}

/** The real app built directly on a real SqliteStore; `wrap` may inject a fault into the store. */
async function startOwnServer(wrap: (store: SqliteStore) => SqliteStore = (store) => store): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'discue-test-'));
  const config = loadConfig({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT_KEY, DISCUE_RATE_LIMIT_PER_MINUTE: '0' });
  const store = openSqliteStore(config.dataDir);
  await ensureRootKey(store, config.rootApiKey, Date.now());
  const { app, services } = buildApp({ config, store: wrap(store), logger: pino({ level: 'silent' }) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  let closing: Promise<void> | undefined;
  const closeApp = () => (closing ??= app.close());
  return {
    url,
    app,
    store,
    closeApp,
    close: async () => {
      await closeApp();
      await services.keys.flushLastUsed();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A store whose `listQueues` throws an error carrying a fake stack line. */
function withFailingListQueues(store: SqliteStore): SqliteStore {
  const faulty = Object.create(store) as SqliteStore;
  faulty.listQueues = async () => {
    throw new Error('boom\n    at secret/path.ts:1');
  };
  return faulty;
}

// ---------------------------------------------------------------------------------------------

describe('status codes of B.3 on a default server', () => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;

  before(async () => {
    // A high lock-out threshold keeps the few invalid keys below from locking this source out.
    server = await startServer({ DISCUE_LOCKOUT_THRESHOLD: '1000' });
    a = await seedTenant(server, 'a.example.com');
    b = await seedTenant(server, 'b.example.com');
  });
  after(() => server.close());

  const asA = (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
    server.call(method, path, { key: a.key, ...options });

  describe('2xx', () => {
    it('200: a resource with an absolute _links.self.href', async () => {
      const res = await asA('GET', `/v1/queues/${a.queueId}`);
      assertOk(res);
      assert.equal(res.body.queue.id, a.queueId);
      const self = new URL(res.body._links.self.href); // throws on a relative href
      assert.equal(self.origin, server.url);
      assert.equal(self.pathname, `/queues/${a.queueId}`);
    });

    it('204: POST /api_clients with Prefer: return=minimal creates the client, with no body', async () => {
      const res = await server.call('POST', '/api_clients', { body: { name: 'minimal.example.com' }, headers: { prefer: 'return=minimal' } });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      const list = await server.call('GET', '/api_clients?per_page=100');
      assertOk(list);
      assert.ok(list.body.api_clients.some((c: { name: string }) => c.name === 'minimal.example.com'));
    });

    it('204: GET /queues with Prefer: return=minimal', async () => {
      const res = await asA('GET', '/queues', { headers: { prefer: 'return=minimal' } });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
    });
  });

  describe('400', () => {
    it('malformed JSON body', async () => {
      assertError(await asA('POST', '/queues', { body: '{"name": ' }), 400);
    });

    it('a name of the wrong type is refused, not coerced', async () => {
      const res = await asA('POST', '/queues', { body: { name: 5 } });
      assertError(res, 400);
      assert.ok(errorPaths(res).some((p) => p.includes('name')));
    });

    it('message data of the wrong type is refused, not coerced', async () => {
      const res = await asA('POST', `/queues/${a.queueId}/messages`, { body: { data: 123 } });
      assertError(res, 400);
      assert.ok(errorPaths(res).some((p) => p.includes('data')));
    });

    it('an unknown enum value (api key status "maybe")', async () => {
      assertError(await asA('POST', '/api_keys', { body: { name: 'k', status: 'maybe' } }), 400);
    });

    it('an invalid schema definition names the bad rule', async () => {
      const res = await asA('POST', '/queues', { body: { name: 'bad-schema', schema: { a: { type: 'strnig' } } } });
      assertError(res, 400);
      assert.ok(errorPaths(res).some((p) => /\ba\b/.test(p)), `paths: ${errorPaths(res).join(', ')}`);
    });

    it('a __proto__ key in the body is refused and nothing is created', async () => {
      const res = await asA('POST', '/queues', { body: '{"name":"proto-queue","__proto__":{"polluted":true}}' });
      assertError(res, 400);
      const list = await asA('GET', '/queues?per_page=100');
      assertOk(list);
      assert.ok(!list.body.queues.some((q: { name: string }) => q.name === 'proto-queue'));
    });

    it('per_page=101 and page=0 are refused; per_page=100&page=1 is fine', async () => {
      assertError(await asA('GET', '/queues?per_page=101'), 400);
      assertError(await asA('GET', '/queues?page=0'), 400);
      assertOk(await asA('GET', '/queues?per_page=100&page=1'));
    });
  });

  describe('401', () => {
    it('no api key', async () => {
      assertError(await server.call('GET', '/queues', { key: null }), 401);
    });

    it('an unknown api key', async () => {
      assertError(await server.call('GET', '/queues', { key: 'no-such-key-0123456789' }), 401);
    });

    it('a disabled api key', async () => {
      const disabled = await newKey(server, a.key, { name: 'off', status: 'disabled' });
      assertError(await server.call('GET', '/queues', { key: disabled }), 401);
    });
  });

  describe('403', () => {
    it('a key lacking the scope', async () => {
      const readOnly = await newKey(server, a.key, { name: 'ro', scopes: [{ resource: 'queues', access: 'read', targets: ['*'] }] });
      assertOk(await server.call('GET', '/queues', { key: readOnly }));
      assertError(await server.call('POST', '/queues', { key: readOnly, body: { name: 'ro-queue' } }), 403);
    });

    it('a tenant key creating an api client (root only)', async () => {
      assertError(await asA('POST', '/api_clients', { body: { name: 'sneaky.example.com' } }), 403);
    });

    it('granting a protected scope through the API', async () => {
      const body = { name: 'escalate', scopes: [{ resource: 'api_clients', access: 'read', targets: ['*'] }] };
      assertError(await asA('POST', '/api_keys', { body }), 403);
    });
  });

  describe('404', () => {
    it('an unknown path', async () => {
      assertError(await server.call('GET', '/no/such/path'), 404);
    });

    it("another api client's queue", async () => {
      assertOk(await server.call('GET', `/queues/${b.queueId}`, { key: b.key }));
      assertError(await asA('GET', `/queues/${b.queueId}`), 404);
    });

    it('an unknown message id', async () => {
      assertError(await asA('GET', `/queues/${a.queueId}/messages/no-such-message`), 404);
    });
  });

  it('405: DELETE /queues, with an Allow header listing GET and POST', async () => {
    const res = await asA('DELETE', '/queues');
    assertError(res, 405);
    const allow = String(res.headers.get('allow')).split(/\s*,\s*/);
    assert.ok(allow.includes('GET') && allow.includes('POST'), `allow: ${allow.join(', ')}`);
  });

  describe('406', () => {
    it('Accept: text/html', async () => {
      assertError(await asA('GET', '/queues', { headers: { accept: 'text/html' } }), 406);
    });

    it('Accept: */* and application/* are fine', async () => {
      assertOk(await asA('GET', '/queues', { headers: { accept: '*/*' } }));
      assertOk(await asA('GET', '/queues', { headers: { accept: 'application/*' } }));
    });

    it('no Accept header at all is fine', async () => {
      const res = await rawRequest(server.url, 'GET', '/queues', { 'x-api-key': a.key });
      assertOk(res);
    });
  });

  it('409: PUT with an outdated If-Match ETag is a lost update, refused', async () => {
    const created = await asA('POST', '/queues', { body: { name: 'etag-queue' } });
    assertOk(created);
    const path = `/queues/${created.body.queue.id}`;
    const read = await asA('GET', path);
    const oldTag = read.headers.get('etag');
    assert.ok(oldTag, 'GET returned no etag');

    const first = await asA('PUT', path, { body: { name: 'etag-first' }, headers: { 'if-match': oldTag } });
    assertOk(first);
    assert.ok(first.headers.get('etag') && first.headers.get('etag') !== oldTag, 'the etag did not change');

    assertError(await asA('PUT', path, { body: { name: 'etag-second' }, headers: { 'if-match': oldTag } }), 409);
    const after = await asA('GET', path);
    assert.equal(after.body.queue.name, 'etag-first');
  });

  it('415: a body that is not application/json', async () => {
    assertError(await asA('POST', '/queues', { body: 'name=plain', headers: { 'content-type': 'text/plain' } }), 415);
  });

  describe('422', () => {
    it('a duplicate queue name', async () => {
      assertError(await asA('POST', '/queues', { body: { name: 'a.example.com-queue' } }), 422);
    });

    it('message data failing the queue schema names the field', async () => {
      const res = await asA('POST', `/queues/${a.queueId}/messages`, { body: { data: '{"user": 5}' } });
      assertError(res, 422);
      assert.ok(errorPaths(res).some((p) => p.includes('user')), `paths: ${errorPaths(res).join(', ')}`);
    });

    it('message data that is not JSON when the queue has a schema', async () => {
      const res = await asA('POST', `/queues/${a.queueId}/messages`, { body: { data: 'not json' } });
      assertError(res, 422);
      assert.ok(errorPaths(res).length > 0);
    });

    it('a listener with an ftp:// URL', async () => {
      const body = { name: 'ftp', notify_url: 'ftp://example.com/x', liveness_url: 'http://127.0.0.1:9/alive' };
      const res = await asA('POST', `/queues/${a.queueId}/listeners`, { body });
      assertError(res, 422);
      assert.ok(errorPaths(res).includes('notify_url'));
    });
  });

  it('423: a client suspended by the operator, until it is re-activated', async () => {
    const tenant = await newClient(server, 'suspended.example.com');
    assertOk(await server.call('GET', '/queues', { key: tenant.key }));
    assertOk(await server.call('PUT', `/api_clients/${tenant.id}`, { body: { status: 'suspended' } }));
    assertError(await server.call('GET', '/queues', { key: tenant.key }), 423);
    assertOk(await server.call('PUT', `/api_clients/${tenant.id}`, { body: { status: 'active' } }));
    assertOk(await server.call('GET', '/queues', { key: tenant.key }));
  });

  it('501: a method the server never implements (PROPFIND)', async () => {
    const res = await rawRequest(server.url, 'PROPFIND', '/queues', { 'x-api-key': a.key, accept: 'application/json' });
    assertError(res, 501);
  });

  it('malformed HTTP gets a 400 JSON answer and the server keeps serving', async () => {
    const connection = await openConnection(server.url);
    connection.write('THIS IS NOT HTTP\r\n\r\n');
    const [response] = await connection.responses;
    assertError(response!, 400);
    assertOk(await server.call('GET', '/health', { key: null }));
  });
});

describe('402: a quota set by the operator', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ DISCUE_MAX_QUEUES: '1' });
  });
  after(() => server.close());

  it('refuses the 2nd queue until root raises the quota', async () => {
    const tenant = await newClient(server, 'quota.example.com');
    assertOk(await server.call('POST', '/queues', { key: tenant.key, body: { name: 'one' } }));
    assertError(await server.call('POST', '/queues', { key: tenant.key, body: { name: 'two' } }), 402);

    assertOk(await server.call('PUT', `/api_clients/${tenant.id}`, { body: { quotas: { max_queues: 2 } } }));
    assertOk(await server.call('POST', '/queues', { key: tenant.key, body: { name: 'two' } }));
  });
});

describe('403: lock-out after repeated invalid keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ DISCUE_LOCKOUT_THRESHOLD: '3' });
  });
  after(() => server.close());

  it('refuses even the valid root key, with Retry-After', async () => {
    assertOk(await server.call('GET', '/queues'));
    for (let i = 0; i < 3; i++) assertError(await server.call('GET', '/queues', { key: `wrong-key-${i}-0123456789` }), 401);
    const res = await server.call('GET', '/queues');
    assertError(res, 403);
    assert.ok(Number(res.headers.get('retry-after')) > 0, `retry-after: ${res.headers.get('retry-after')}`);
  });
});

describe('413: bodies larger than the configured limit', () => {
  let server: TestServer;
  let queueId: string;
  before(async () => {
    server = await startServer({ DISCUE_MAX_DATA_SIZE: '1024' });
    const queue = await server.call('POST', '/queues', { body: { name: 'small' } });
    assertOk(queue);
    queueId = queue.body.queue.id;
  });
  after(() => server.close());

  it('message data over DISCUE_MAX_DATA_SIZE', async () => {
    assertOk(await server.call('POST', `/queues/${queueId}/messages`, { body: { data: 'x'.repeat(1000) } }));
    assertError(await server.call('POST', `/queues/${queueId}/messages`, { body: { data: 'x'.repeat(2000) } }), 413);
  });

  it('a request body far over the body limit', async () => {
    const body = { name: 'huge', padding: 'x'.repeat(2_000_000) };
    assertError(await server.call('POST', '/queues', { body }), 413);
  });
});

describe('422: private listener targets when DISCUE_ALLOW_PRIVATE_TARGETS=false', () => {
  let server: TestServer;
  let queueId: string;
  before(async () => {
    server = await startServer({ DISCUE_ALLOW_PRIVATE_TARGETS: 'false' });
    const queue = await server.call('POST', '/queues', { body: { name: 'targets' } });
    assertOk(queue);
    queueId = queue.body.queue.id;
  });
  after(() => server.close());

  for (const notifyUrl of ['http://127.0.0.1/x', 'http://169.254.169.254/']) {
    it(`refuses ${notifyUrl}`, async () => {
      const body = { name: 'private', notify_url: notifyUrl, liveness_url: 'http://93.184.216.34/alive' };
      const res = await server.call('POST', `/queues/${queueId}/listeners`, { body });
      assertError(res, 422);
      assert.ok(errorPaths(res).includes('notify_url'));
    });
  }
});

describe('429: rate limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ DISCUE_RATE_LIMIT_PER_MINUTE: '3' });
  });
  after(() => server.close());

  /** Four requests inside one fixed one-minute window (a window boundary in between retries once). */
  async function fourRequestsInOneWindow(): Promise<ApiResponse[]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const responses: ApiResponse[] = [];
      for (let i = 0; i < 4; i++) responses.push(await call(server.url, 'GET', `/queues?attempt=${attempt}`));
      if (responses[0]!.headers.get('x-ratelimit-reset') === responses[3]!.headers.get('x-ratelimit-reset')) return responses;
    }
    throw new Error('two window boundaries within a few requests');
  }

  it('carries X-RateLimit-* headers, and the 4th request gets 429 with Retry-After', async () => {
    const [first, , third, fourth] = await fourRequestsInOneWindow();
    assertOk(first!);
    assert.equal(first!.headers.get('x-ratelimit-limit'), '3');
    assert.equal(first!.headers.get('x-ratelimit-remaining'), '2');
    const reset = Number(first!.headers.get('x-ratelimit-reset'));
    assert.ok(Number.isInteger(reset) && reset > Date.now() / 1000, `reset ${reset} is not in the future`);
    assertOk(third!);
    assert.equal(third!.headers.get('x-ratelimit-remaining'), '0');

    assertError(fourth!, 429);
    assert.ok(Number(fourth!.headers.get('retry-after')) >= 1, `retry-after: ${fourth!.headers.get('retry-after')}`);
    assert.equal(fourth!.headers.get('x-ratelimit-limit'), '3');
  });
});

describe('500: an unexpected failure', () => {
  let server: OwnServer;
  before(async () => {
    server = await startOwnServer(withFailingListQueues);
  });
  after(() => server.close());

  it('answers a bare 500 without the error or its stack, and keeps serving', async () => {
    const res = await call(server.url, 'GET', '/queues');
    assertError(res, 500);
    assert.deepEqual(res.body, { title: 'Internal Server Error', status: 500 });
    assert.doesNotMatch(res.text, /boom|secret|path\.ts|\bat\b/);

    assertOk(await call(server.url, 'GET', '/api_keys'));
    assertOk(await call(server.url, 'GET', '/health', { key: null }));
  });
});

describe('503: storage unavailable', () => {
  let server: OwnServer;
  before(async () => {
    server = await startOwnServer();
  });
  after(() => server.close());

  it('answers 503 with Retry-After when the database is gone', async () => {
    await server.store.close();
    const res = await call(server.url, 'GET', '/queues');
    assertError(res, 503);
    assert.ok(Number(res.headers.get('retry-after')) >= 1, `retry-after: ${res.headers.get('retry-after')}`);
  });
});

describe('503: draining for shutdown', () => {
  let server: OwnServer;
  before(async () => {
    server = await startOwnServer();
  });
  after(() => server.close());

  it('answers a request arriving during shutdown with 503, Retry-After and the error shape', async () => {
    const connection = await openConnection(server.url);
    const body = '{"name":"in-flight"}';
    const arrived = once(server.app.server, 'request');
    // A request whose body is still coming keeps its connection busy while the app closes.
    connection.write(`POST /queues HTTP/1.1\r\nHost: t\r\nX-API-KEY: ${ROOT_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 3)}`);
    await arrived;
    void server.closeApp();
    while (server.app.server.listening) await nextTurn();
    connection.write(`${body.slice(3)}GET /queues HTTP/1.1\r\nHost: t\r\nX-API-KEY: ${ROOT_KEY}\r\n\r\n`);

    const [inFlight, late] = await connection.responses;
    assertOk(inFlight!);
    assertError(late!, 503);
    assert.ok(Number(late!.headers.get('retry-after')) >= 1, `retry-after: ${late!.headers.get('retry-after')}`);
  });
});
