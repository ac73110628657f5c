import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ref, usageEvent } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import { compileSchema, schemaId } from '../../domain/schema.js';
import type { Page, PageOf, Queue, QueuePatch } from '../../store/types.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import { linker, namedLinks, type Links } from '../links.js';
import { listQuerySchema, sendList, type PageQuery } from '../paging.js';
import { dropUndefined, expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';

// The full schema language is checked by compileSchema; here only its outer shape and size.
const MAX_SCHEMA_BYTES = 64 * 1024;
const queueBody = {
  type: 'object',
  properties: { name: nameSchema, schema: { type: ['object', 'null'] } },
} as const;

interface QueueBody {
  name?: string;
  schema?: Record<string, unknown> | null;
}

export const queueParams = paramsSchema('queue_id');
export type QueueParams = { queue_id: string };

/** The schema columns for a definition, or a 400 naming every bad part of it. */
function schemaColumns(definition: Record<string, unknown> | null): Pick<Queue, 'schema' | 'schema_id'> {
  if (definition === null) return { schema: null, schema_id: null };
  // Compiled first: it bounds the depth, so measuring the size cannot overflow the stack.
  const compiled = compileSchema(definition);
  if (!compiled.ok) {
    throw new HttpError(400, `invalid schema: ${compiled.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, compiled.issues);
  }
  if (JSON.stringify(definition).length > MAX_SCHEMA_BYTES) throw new HttpError(400, `schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  return { schema: definition, schema_id: schemaId(definition) };
}

export function queueLink(request: FastifyRequest, services: Services) {
  const link = linker(request, services.config.publicUrl);
  return (queueId: string, rest = '') => link(`/queues/${queueId}${rest}`);
}

/** The queue a request names, of the caller's api client, or 404. */
export async function requestedQueue(request: FastifyRequest<{ Params: QueueParams }>, services: Services): Promise<Queue> {
  return found(await services.store.getQueue(request.principal.client.id, request.params.queue_id), 'queue');
}

function queueView(queue: Queue) {
  return {
    id: queue.id,
    name: queue.name,
    ...(queue.schema ? { schema: queue.schema, schema_id: queue.schema_id } : {}),
    created_at: queue.created_at,
    updated_at: queue.updated_at,
  };
}

function queueLinks(request: FastifyRequest, services: Services, queue: Queue): Links {
  const at = queueLink(request, services);
  return {
    self: at(queue.id),
    listeners: at(queue.id, '/listeners'),
    messages: at(queue.id, '/messages'),
    ...(queue.schema_id ? { schema: at(queue.id, `/schemas/${queue.schema_id}`) } : {}),
  };
}

// A queue's GET lists its listeners inline; the listener quota bounds them, this bounds the page.
const INLINE_LISTENERS = 1000;

/**
 * A resource that lives under queues is listed both across the client's queues (`/<key>`) and
 * for one queue (`/queues/{queue_id}/<key>`), with one scope, paging and links.
 */
export function queueChildLists<T extends { id: string; name: string | null; queue_id: string }>(
  app: FastifyInstance,
  services: Services,
  spec: {
    key: 'listeners' | 'messages';
    fetch: (clientId: string, queueId: string | undefined, page: Page) => Promise<PageOf<T>>;
    view: (item: T) => unknown;
  },
): void {
  const config = scopesOf(spec.key).read;
  const list = (request: FastifyRequest<{ Querystring: PageQuery }>, reply: FastifyReply, queueId: string | undefined, path: string) =>
    sendList(request, reply, {
      key: spec.key,
      path,
      link: linker(request, services.config.publicUrl),
      fetch: (page) => spec.fetch(request.principal.client.id, queueId, page),
      itemPath: (item) => `/queues/${item.queue_id}/${spec.key}/${item.id}`,
      view: spec.view,
    });
  app.get<{ Querystring: PageQuery }>(
    `/${spec.key}`,
    { config, schema: { summary: `List ${spec.key} of every queue`, tags: [spec.key], querystring: listQuerySchema } },
    (request, reply) => list(request, reply, undefined, `/${spec.key}`),
  );
  app.get<{ Params: QueueParams; Querystring: PageQuery }>(
    `/queues/:queue_id/${spec.key}`,
    { config, schema: { summary: `List a queue's ${spec.key}`, tags: [spec.key], params: queueParams, querystring: listQuerySchema } },
    async (request, reply) => {
      const queue = await requestedQueue(request, services);
      return list(request, reply, queue.id, `/queues/${queue.id}/${spec.key}`);
    },
  );
}

export function queueRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('queues');

  app.route<{ Body: QueueBody }>({
    method: ['POST', 'PUT'],
    url: '/queues',
    config: write,
    schema: { summary: 'Create a queue (PUT creates too)', tags: ['queues'], body: { ...queueBody, required: ['name'] } },
    handler: async (request, reply) => {
      const { client } = request.principal;
      const at = services.now();
      const queue: Queue = {
        id: newId(),
        client_id: client.id,
        name: request.body.name!,
        ...schemaColumns(request.body.schema ?? null),
        created_at: at,
        updated_at: at,
        revision: 1,
      };
      const maxQueues = client.quotas.max_queues ?? services.config.quotas.max_queues;
      await store.createQueue(queue, usageEvent('queue_added', client.id, at, { queue: ref(queue) }), maxQueues);
      return sendOne(reply, 'queue', queueView(queue), queueLinks(request, services, queue), queue.revision);
    },
  });

  app.get<{ Querystring: PageQuery }>('/queues', { config: read, schema: { summary: 'List queues', tags: ['queues'], querystring: listQuerySchema } }, (request, reply) =>
    sendList(request, reply, {
      key: 'queues',
      path: '/queues',
      link: linker(request, services.config.publicUrl),
      fetch: (page) => store.listQueues(request.principal.client.id, page),
      itemPath: (q) => `/queues/${q.id}`,
      view: queueView,
    }),
  );

  app.get<{ Params: QueueParams }>('/queues/:queue_id', { config: read, schema: { summary: 'Get a queue', tags: ['queues'], params: queueParams } }, async (request, reply) => {
    const queue = await requestedQueue(request, services);
    const listeners = await store.listListeners(queue.client_id, queue.id, { offset: 0, limit: INLINE_LISTENERS });
    const at = queueLink(request, services);
    const links = { ...namedLinks(listeners.items, (l) => at(queue.id, `/listeners/${l.id}`)), ...queueLinks(request, services, queue) };
    const view = { ...queueView(queue), listeners: listeners.items.map((l) => ({ id: l.id, name: l.name })) };
    return sendOne(reply, 'queue', view, links, queue.revision);
  });

  app.put<{ Params: QueueParams; Body: QueueBody }>('/queues/:queue_id', { config: write, schema: { summary: 'Update a queue: name, schema', tags: ['queues'], params: queueParams, body: queueBody } }, async (request, reply) => {
    const current = await requestedQueue(request, services);
    const { name, schema } = request.body;
    const patch: QueuePatch = dropUndefined({ name, ...(schema === undefined ? {} : schemaColumns(schema)) });
    const at = services.now();
    const queue = await store.updateQueue(current.client_id, current.id, {
      patch,
      updatedAt: at,
      expectedRevision: expectedRevision(request),
      event: usageEvent('queue_updated', current.client_id, at, { queue: ref({ id: current.id, name: name ?? current.name }) }),
    });
    return sendOne(reply, 'queue', queueView(queue), queueLinks(request, services, queue), queue.revision);
  });

  app.delete<{ Params: QueueParams }>('/queues/:queue_id', { config: write, schema: { summary: 'Delete a queue', tags: ['queues'], params: queueParams } }, async (request, reply) => {
    const queue = await requestedQueue(request, services);
    await store.deleteQueue(queue.client_id, queue.id, usageEvent('queue_deleted', queue.client_id, services.now(), { queue: ref(queue) }));
    return sendOne(reply, 'queue', queueView(queue), { self: queueLink(request, services)(queue.id) });
  });

  app.get<{ Params: QueueParams & { schema_id: string } }>(
    '/queues/:queue_id/schemas/:schema_id',
    { config: scopesOf('schemas').read, schema: { summary: 'Get a queue\'s schema', tags: ['queues'], params: paramsSchema('queue_id', 'schema_id') } },
    async (request, reply) => {
      const queue = await requestedQueue(request, services);
      if (!queue.schema || queue.schema_id !== request.params.schema_id) throw new HttpError(404, 'no such schema');
      reply.header('etag', `"${queue.schema_id}"`);
      return sendOne(reply, 'schema', queue.schema, { self: queueLink(request, services)(queue.id, `/schemas/${queue.schema_id}`), queue: queueLink(request, services)(queue.id) });
    },
  );
}
