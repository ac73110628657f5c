import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { TENANT_ROUTES } from '../helpers/routes.js';
import { seedTenant, type TestServer, type Tenant } from '../helpers/server.js';

type Operation = { summary?: string; tags?: string[]; security?: Record<string, string[]>[]; requestBody?: unknown; responses: Record<string, any> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: any };

const METHODS = ['get', 'put', 'post', 'delete'];
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('OpenAPI document', () => {
  let server: TestApp;
  const routes: { method: string; url: string }[] = [];
  let doc: Doc;

  before(async () => {
    server = await startApp();
    // The routes as registered: a second app on the same store, watched from its start.
    const { app } = buildApp({ config: server.config, store: server.store, logger: pino({ level: 'silent' }) });
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
    });
    await app.ready();
    await app.close();
    const answer = await server.call('GET', '/openapi.json', { key: null });
    assert.equal(answer.status, 200);
    doc = answer.body;
  });
  after(() => server.close());

  it('is a valid OpenAPI 3.1 document with the X-API-KEY security scheme', async () => {
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as any);
    assert.deepEqual(doc.components.securitySchemes.apiKey, {
      type: 'apiKey',
      in: 'header',
      name: 'X-API-KEY',
      description: doc.components.securitySchemes.apiKey.description,
    });
  });

  it('describes every registered route: the /v1 form of API routes, operational routes as they are', () => {
    assert.ok(routes.some((r) => r.url === '/v1/queues/:queue_id/messages') && routes.some((r) => r.url === '/metrics'), 'routes collected');
    const urls = new Set(routes.map((r) => r.url));
    const documented = new Set<string>();
    for (const { method, url } of routes) {
      if (url === '/docs' || url.startsWith('/docs/')) continue; // the reference page's own files
      const form = !url.startsWith('/v1/') && urls.has(`/v1${url}`) ? `/v1${url}` : url;
      const operation = doc.paths[openApiPath(form)]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${url} is not in the document (as ${form})`);
      documented.add(`${method.toLowerCase()} ${openApiPath(form)}`);
    }
    // …and the document lists nothing else.
    const listed = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m} ${path}`));
    assert.deepEqual(listed.sort(), [...documented].sort());
  });

  it('gives every operation a summary, a tag, a described 200, and its security and error answers', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        assert.ok(op.summary, `${name} has no summary`);
        assert.equal(op.tags?.length, 1, `${name} has no tag`);
        assert.ok(op.responses['200'] && !/not yet described/.test(op.responses['200'].description), `${name} has no described 200`);
        const keyed = !['/v1/health', '/v1/ready', '/metrics', '/openapi.json'].includes(path);
        if (keyed) {
          assert.deepEqual(op.security, [{ apiKey: [] }], `${name} needs the api key`);
          for (const code of ['401', '403', '429', '503']) assert.equal(op.responses[code]?.content['application/json'].schema.$ref, '#/components/schemas/Error', `${name} ${code}`);
        } else {
          assert.equal(op.security, undefined, `${name} is public`);
        }
      }
    }
    assert.ok(doc.paths['/v1/queues/{queue_id}/messages']!.post!.requestBody, 'bodies are described');
    assert.ok(doc.paths['/v1/queues/{queue_id}']!.put!.responses['409'], 'If-Match conflicts are described');
  });

  describe('matches what the server answers', () => {
    let validate: (path: string, method: string, status: string, body: unknown) => void;
    const exercised = new Set<string>();

    before(async () => {
      const resolved = (await SwaggerParser.dereference(structuredClone(doc) as any)) as unknown as Doc;
      const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
      validate = (path, method, status, body) => {
        const schema = resolved.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
        assert.ok(schema, `no ${status} schema for ${method} ${path}`);
        const check = ajv.compile(schema);
        assert.ok(check(body), `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(body)}`);
        exercised.add(`${method} ${path}`);
      };
    });

    /** Calls a route under /v1 and checks the answer against the document. */
    async function check(t: Tenant | undefined, method: string, path: string, template: string, body?: unknown, key?: string) {
      const answer = await server.call(method, `/v1${path}`, { key: key ?? t?.key, body });
      assert.equal(answer.status, 200, `${method} ${path}: ${answer.text}`);
      validate(`/v1${template}`, method.toLowerCase(), '200', answer.body);
    }

    /** A route's path as the document writes it: the tenant's ids back to parameter names. */
    function templateOf(path: string, t: Tenant): string {
      const ids: [string, string][] = [
        [t.queueId, '{queue_id}'],
        [t.listenerId, '{listener_id}'],
        [t.messageId, '{message_id}'],
        [t.keyId, '{api_key_id}'],
        [t.clientId, '{api_client_id}'],
        [t.schemaId, '{schema_id}'],
      ];
      return ids.reduce((p, [id, name]) => p.split(id).join(name), path);
    }

    it('for every tenant route', async () => {
      for (const route of TENANT_ROUTES) {
        const t = await seedTenant(server as unknown as TestServer, `docs-${exercised.size}.example.com`);
        const path = route.path(t);
        await check(t, route.method, path, templateOf(path, t), route.body?.(t));
      }
    });

    it('for the root, listener, schedule and operational routes', async () => {
      const t = await seedTenant(server as unknown as TestServer, 'docs-root.example.com');
      const created = await server.call('POST', '/v1/api_clients', { body: { name: 'docs-new.example.com' } });
      validate('/v1/api_clients', 'post', '200', created.body);
      await check(undefined, 'GET', '/api_clients', '/api_clients', undefined, undefined);
      await check(undefined, 'DELETE', `/api_clients/${created.body.api_client.id}`, '/api_clients/{api_client_id}');
      const listener = `/queues/${t.queueId}/listeners/${t.listenerId}`;
      await check(t, 'POST', `${listener}/secret/rotate`, '/queues/{queue_id}/listeners/{listener_id}/secret/rotate');
      await check(t, 'POST', `${listener}/redeliver`, '/queues/{queue_id}/listeners/{listener_id}/redeliver');
      const schedules = `/queues/${t.queueId}/schedules`;
      const schedule = await server.call('POST', `/v1${schedules}`, { key: t.key, body: { name: 'nightly', cron: '0 3 * * *', data: '{"user":"ann"}' } });
      validate('/v1/queues/{queue_id}/schedules', 'post', '200', schedule.body);
      const one = `${schedules}/${schedule.body.schedule.id}`;
      await check(t, 'GET', schedules, '/queues/{queue_id}/schedules');
      await check(t, 'GET', one, '/queues/{queue_id}/schedules/{schedule_id}');
      await check(t, 'PUT', one, '/queues/{queue_id}/schedules/{schedule_id}', { status: 'paused' });
      await check(t, 'DELETE', one, '/queues/{queue_id}/schedules/{schedule_id}');
      await check(undefined, 'GET', '/health', '/health', undefined, undefined);
      await check(undefined, 'GET', '/ready', '/ready', undefined, undefined);
    });

    it('for errors', async () => {
      const missing = await server.call('GET', '/v1/queues/nope', { key: null });
      assert.equal(missing.status, 401);
      validate('/v1/queues/{queue_id}', 'get', '401', missing.body);
      const invalid = await server.call('POST', '/v1/queues', { body: { name: 7 } });
      assert.equal(invalid.status, 400);
      validate('/v1/queues', 'post', '400', invalid.body);
      assert.ok(invalid.body.errors.length > 0);
    });

    it('for every JSON operation of the document', () => {
      // `PUT` on a collection is the creating route itself, documented as its `POST`.
      const sameAsPost = (path: string, method: string) => method === 'put' && exercised.has(`post ${path}`) && isDeepStrictEqual(doc.paths[path]!.put, doc.paths[path]!.post);
      const json = Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([method, op]) => op.responses['200'].content?.['application/json']?.schema && path !== '/openapi.json' && !sameAsPost(path, method))
          .map(([method]) => `${method} ${path}`),
      );
      assert.deepEqual(json.filter((op) => !exercised.has(op)), [], 'operations whose answers no test checked');
    });
  });
});
