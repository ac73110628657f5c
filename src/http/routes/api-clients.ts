import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiClient, ClientPatch } from '../../store/types.js';
import { createApiClient } from '../../tenancy.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import { linker } from '../links.js';
import { listQuerySchema, sendList, type PageQuery } from '../paging.js';
import { dropUndefined, expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';

const quotasSchema = {
  type: 'object',
  properties: {
    max_queues: { type: 'integer', minimum: 0 },
    max_listeners: { type: 'integer', minimum: 0 },
    max_api_keys: { type: 'integer', minimum: 0 },
    max_schedules: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
} as const;

const clientBody = {
  type: 'object',
  properties: { name: nameSchema, status: { enum: ['active', 'suspended'] }, quotas: quotasSchema },
} as const;

interface ClientBody {
  name?: string;
  status?: ApiClient['status'];
  quotas?: ApiClient['quotas'];
}

const clientParams = paramsSchema('api_client_id');
type ClientParams = { api_client_id: string };

export function clientView(client: ApiClient, services: Services) {
  return {
    id: client.id,
    name: client.name,
    status: client.status,
    quotas: { ...services.config.quotas, ...client.quotas },
    created_at: client.created_at,
    updated_at: client.updated_at,
  };
}

/** Only the operator's root client manages other api clients. */
function requireRoot(request: FastifyRequest): void {
  if (!request.principal.client.is_root) throw new HttpError(403, 'only the root api key may manage api clients');
}

/** The client a request may see: the root client sees every client, a tenant only itself. */
async function visibleClient(request: FastifyRequest<{ Params: ClientParams }>, services: Services): Promise<ApiClient> {
  const { client } = request.principal;
  const id = request.params.api_client_id;
  if (!client.is_root && id !== client.id) throw new HttpError(404, 'no such api client');
  return found(await services.store.getClient(id), 'api client');
}

export function apiClientRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('api_clients');

  app.route<{ Body: ClientBody }>({
    method: ['POST', 'PUT'],
    url: '/api_clients',
    config: write,
    schema: { summary: 'Create an api client (root key; PUT creates too)', tags: ['api clients'], body: { ...clientBody, required: ['name'] } },
    handler: async (request, reply) => {
      requireRoot(request);
      const { name, status, quotas } = request.body;
      const { client, key, secret } = await createApiClient(store, { name: name!, status, quotas }, services.now());
      const link = linker(request, services.config.publicUrl);
      return reply.send({
        api_client: clientView(client, services),
        api_key: secret,
        _links: { self: link(`/api_clients/${client.id}`), api_key: link(`/api_keys/${key.id}`) },
      });
    },
  });

  app.get<{ Querystring: PageQuery }>('/api_clients', { config: read, schema: { summary: 'List api clients (root key)', tags: ['api clients'], querystring: listQuerySchema } }, (request, reply) => {
    requireRoot(request);
    return sendList(request, reply, {
      key: 'api_clients',
      path: '/api_clients',
      link: linker(request, services.config.publicUrl),
      fetch: (page) => store.listClients(page),
      itemPath: (c) => `/api_clients/${c.id}`,
      view: (c) => clientView(c, services),
    });
  });

  app.get<{ Params: ClientParams }>('/api_clients/:api_client_id', { config: read, schema: { summary: 'Get an api client', tags: ['api clients'], params: clientParams } }, async (request, reply) => {
    const client = await visibleClient(request, services);
    const link = linker(request, services.config.publicUrl);
    return sendOne(reply, 'api_client', clientView(client, services), { self: link(`/api_clients/${client.id}`) }, client.revision);
  });

  app.put<{ Params: ClientParams; Body: ClientBody }>(
    '/api_clients/:api_client_id',
    { config: write, schema: { summary: 'Rename an api client; suspend it or set its quotas (root key)', tags: ['api clients'], params: clientParams, body: clientBody } },
    async (request, reply) => {
      const current = await visibleClient(request, services);
      const { name, status, quotas } = request.body;
      if ((status !== undefined || quotas !== undefined) && !request.principal.client.is_root) {
        throw new HttpError(403, 'only the root api key may change the status or quotas of an api client');
      }
      if (current.is_root && status === 'suspended') throw new HttpError(422, 'the root api client cannot be suspended');
      const patch: ClientPatch = { name, status, quotas: quotas && { ...current.quotas, ...quotas } };
      const client = await store.updateClient(current.id, { patch: dropUndefined(patch), updatedAt: services.now(), expectedRevision: expectedRevision(request) });
      services.keys.forget(client.id);
      const link = linker(request, services.config.publicUrl);
      return sendOne(reply, 'api_client', clientView(client, services), { self: link(`/api_clients/${client.id}`) }, client.revision);
    },
  );

  app.delete<{ Params: ClientParams }>('/api_clients/:api_client_id', { config: write, schema: { summary: 'Delete an api client and everything it owns (root key)', tags: ['api clients'], params: clientParams } }, async (request, reply) => {
    requireRoot(request);
    const client = found(await store.getClient(request.params.api_client_id), 'api client');
    if (client.is_root) throw new HttpError(422, 'the root api client cannot be deleted');
    await store.deleteClient(client.id);
    services.keys.forget(client.id);
    return sendOne(reply, 'api_client', clientView(client, services), { self: linker(request, services.config.publicUrl)(`/api_clients/${client.id}`) });
  });
}
