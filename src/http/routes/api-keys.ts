import type { FastifyInstance } from 'fastify';
import { ref, usageEvent } from '../../domain/events.js';
import { defaultScopes, isProtected, RESOURCES, type Scope } from '../../domain/scopes.js';
import type { ApiKey, KeyPatch } from '../../store/types.js';
import { createApiKey } from '../../tenancy.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import { linker } from '../links.js';
import { listQuerySchema, sendList, type PageQuery } from '../paging.js';
import { dropUndefined, expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';

const scopeSchema = {
  type: 'object',
  properties: {
    resource: { enum: RESOURCES },
    access: { enum: ['read', 'write'] },
    targets: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  required: ['resource', 'access', 'targets'],
} as const;

const keyBody = {
  type: 'object',
  properties: {
    name: nameSchema,
    status: { enum: ['enabled', 'disabled'] },
    scopes: { type: 'array', maxItems: 100, items: scopeSchema },
  },
} as const;

interface KeyBody {
  name?: string;
  status?: ApiKey['status'];
  scopes?: Scope[];
}

const keyParams = paramsSchema('api_key_id');
type KeyParams = { api_key_id: string };

function keyView(key: ApiKey, services: Services) {
  return {
    id: key.id,
    name: key.name,
    created_at: key.created_at,
    updated_at: key.updated_at,
    last_used_at: services.keys.lastUsedAt(key),
    key: key.key_prefix,
    status: key.status,
    scopes: key.scopes.map(({ resource, access, targets }) => ({ resource, access, targets })),
  };
}

/**
 * Protected scopes cannot be granted through the API; a key may only keep those it already had
 * (a new client's first key holds them all).
 */
function refuseProtectedGrants(requested: readonly Scope[], held: readonly Scope[]): void {
  const granted = requested.filter(
    (s) => isProtected(s) && !held.some((h) => h.resource === s.resource && (h.access === 'write' || s.access === 'read')),
  );
  if (granted.length > 0) {
    throw new HttpError(403, `scopes on ${granted.map((s) => s.resource).join(', ')} cannot be granted through the API`);
  }
}

export function apiKeyRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('api_keys');
  const keyLink = (request: Parameters<typeof linker>[0], id: string) => linker(request, services.config.publicUrl)(`/api_keys/${id}`);

  app.route<{ Body: KeyBody }>({
    method: ['POST', 'PUT'],
    url: '/api_keys',
    config: write,
    schema: { summary: 'Create an api key (PUT creates too)', tags: ['api keys'], body: { ...keyBody, required: ['name'] } },
    handler: async (request, reply) => {
      const { client } = request.principal;
      const scopes = request.body.scopes ?? defaultScopes();
      refuseProtectedGrants(scopes, []);
      const { key, secret } = await createApiKey(store, client, { name: request.body.name!, scopes, status: request.body.status }, services.config.quotas, services.now());
      return reply.send({ api_key: secret, id: key.id, _links: { self: keyLink(request, key.id) } });
    },
  });

  app.get<{ Querystring: PageQuery }>('/api_keys', { config: read, schema: { summary: 'List api keys', tags: ['api keys'], querystring: listQuerySchema } }, (request, reply) =>
    sendList(request, reply, {
      key: 'api_keys',
      path: '/api_keys',
      link: linker(request, services.config.publicUrl),
      fetch: (page) => store.listKeys(request.principal.client.id, page),
      itemPath: (k) => `/api_keys/${k.id}`,
      view: (k) => keyView(k, services),
    }),
  );

  app.get<{ Params: KeyParams }>('/api_keys/:api_key_id', { config: read, schema: { summary: 'Get an api key', tags: ['api keys'], params: keyParams } }, async (request, reply) => {
    const key = found(await store.getKey(request.principal.client.id, request.params.api_key_id), 'api key');
    return sendOne(reply, 'api_key', keyView(key, services), { self: keyLink(request, key.id) }, key.revision);
  });

  app.put<{ Params: KeyParams; Body: KeyBody }>('/api_keys/:api_key_id', { config: write, schema: { summary: 'Update an api key: name, status, scopes', tags: ['api keys'], params: keyParams, body: keyBody } }, async (request, reply) => {
    const clientId = request.principal.client.id;
    const current = found(await store.getKey(clientId, request.params.api_key_id), 'api key');
    const { name, status, scopes } = request.body;
    if (scopes) refuseProtectedGrants(scopes, current.scopes);
    const at = services.now();
    const patch: KeyPatch = dropUndefined({ name, status, scopes });
    const key = await store.updateKey(clientId, current.id, {
      patch,
      updatedAt: at,
      expectedRevision: expectedRevision(request),
      event: usageEvent('api_key_updated', clientId, at, { api_key: ref({ id: current.id, name: name ?? current.name }) }),
    });
    services.keys.forget(clientId);
    return sendOne(reply, 'api_key', keyView(key, services), { self: keyLink(request, key.id) }, key.revision);
  });

  app.delete<{ Params: KeyParams }>('/api_keys/:api_key_id', { config: write, schema: { summary: 'Delete an api key', tags: ['api keys'], params: keyParams } }, async (request, reply) => {
    const clientId = request.principal.client.id;
    const key = found(await store.getKey(clientId, request.params.api_key_id), 'api key');
    await store.deleteKey(clientId, key.id, usageEvent('api_key_deleted', clientId, services.now(), { api_key: ref(key) }));
    services.keys.forget(clientId);
    return sendOne(reply, 'api_key', keyView(key, services), { self: keyLink(request, key.id) });
  });
}
