import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ref, usageEvent } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import { checkTargetUrl, MAX_TARGET_URL_LENGTH } from '../../domain/target-url.js';
import type { Listener, ListenerPatch } from '../../store/types.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import type { Links } from '../links.js';
import { dropUndefined, expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';
import { queueChildLists, queueLink, queueParams, requestedQueue, type QueueParams } from './queues.js';

const urlSchema = { type: 'string', minLength: 1, maxLength: MAX_TARGET_URL_LENGTH } as const;
const listenerBody = {
  type: 'object',
  properties: { name: nameSchema, notify_url: urlSchema, liveness_url: urlSchema },
} as const;
interface ListenerBody {
  name?: string;
  notify_url?: string;
  liveness_url?: string;
}

const listenerParams = paramsSchema('queue_id', 'listener_id');
type ListenerParams = QueueParams & { listener_id: string };

/** A Standard Webhooks signing secret. */
export function newListenerSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Refuses (422) a listener URL that is not http(s) or points into a private network. */
async function acceptedUrl(field: 'notify_url' | 'liveness_url', raw: string | undefined, services: Services): Promise<string | undefined> {
  if (raw === undefined) return undefined;
  const checked = await checkTargetUrl(raw, { allowPrivate: services.config.allowPrivateTargets, resolve: services.resolveHost, field });
  if (!checked.ok) throw new HttpError(422, checked.reason, [{ path: field, message: checked.reason }]);
  return raw;
}

async function listenerView(listener: Listener, services: Services) {
  return {
    id: listener.id,
    name: listener.name,
    queue_id: listener.queue_id,
    notify_url: listener.notify_url,
    liveness_url: listener.liveness_url,
    liveness: {
      state: listener.liveness_state,
      success_count: listener.liveness_success_count,
      failure_count: listener.liveness_failure_count,
    },
    messages: {
      acknowledged_count: listener.acknowledged_count,
      missed: await services.store.missedMessageIds(listener.id, MISSED_SHOWN),
      missed_count: listener.missed_count,
    },
    created_at: listener.created_at,
    updated_at: listener.updated_at,
  };
}

// After a rotation, deliveries are signed with the old secret too for this long.
const SECRET_OVERLAP_MS = 24 * 3_600_000;

// The newest missed message ids a listener's GET lists; `missed_count` tells how many in all.
const MISSED_SHOWN = 100;

function listenerLinks(request: FastifyRequest, services: Services, listener: Listener): Links {
  const at = queueLink(request, services);
  return { self: at(listener.queue_id, `/listeners/${listener.id}`), queue: at(listener.queue_id) };
}

export function listenerRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('listeners');

  app.route<{ Params: QueueParams; Body: ListenerBody }>({
    method: ['POST', 'PUT'],
    url: '/queues/:queue_id/listeners',
    config: write,
    schema: { summary: 'Add a listener to a queue (PUT adds too)', tags: ['listeners'], params: queueParams, body: { ...listenerBody, required: ['name', 'notify_url', 'liveness_url'] } },
    handler: async (request, reply) => {
      const queue = await requestedQueue(request, services);
      const { client } = request.principal;
      const at = services.now();
      const listener: Listener = {
        id: newId(),
        client_id: client.id,
        queue_id: queue.id,
        name: request.body.name!,
        notify_url: (await acceptedUrl('notify_url', request.body.notify_url, services))!,
        liveness_url: (await acceptedUrl('liveness_url', request.body.liveness_url, services))!,
        secret: newListenerSecret(),
        liveness_state: 'stable',
        liveness_success_count: 0,
        liveness_failure_count: 0,
        acknowledged_count: 0,
        missed_count: 0,
        previous_secret: null,
        previous_secret_until: null,
        liveness_streak: 0,
        next_probe_at: at + Math.floor(Math.random() * services.config.livenessIntervalMs),
        created_at: at,
        updated_at: at,
        revision: 1,
      };
      const maxListeners = client.quotas.max_listeners ?? services.config.quotas.max_listeners;
      await store.createListener(listener, usageEvent('listener_added', client.id, at, { queue: ref(queue), listener: ref(listener) }), maxListeners);
      // The signing secret is shown here only, as an api key's secret is.
      const view = { ...(await listenerView(listener, services)), secret: listener.secret };
      return sendOne(reply, 'listener', view, listenerLinks(request, services, listener), listener.revision);
    },
  });

  queueChildLists(app, services, { key: 'listeners', fetch: (client, queue, page) => store.listListeners(client, queue, page), view: (l: Listener) => listenerView(l, services) });

  const requestedListener = async (request: FastifyRequest<{ Params: ListenerParams }>) =>
    found(await store.getListener(request.principal.client.id, request.params.queue_id, request.params.listener_id), 'listener');

  app.get<{ Params: ListenerParams }>('/queues/:queue_id/listeners/:listener_id', { config: read, schema: { summary: 'Get a listener', tags: ['listeners'], params: listenerParams } }, async (request, reply) => {
    const listener = await requestedListener(request);
    return sendOne(reply, 'listener', await listenerView(listener, services), listenerLinks(request, services, listener), listener.revision);
  });

  app.put<{ Params: ListenerParams; Body: ListenerBody }>(
    '/queues/:queue_id/listeners/:listener_id',
    { config: write, schema: { summary: 'Update a listener', tags: ['listeners'], params: listenerParams, body: listenerBody } },
    async (request, reply) => {
      const current = await requestedListener(request);
      const patch: ListenerPatch = dropUndefined({
        name: request.body.name,
        notify_url: await acceptedUrl('notify_url', request.body.notify_url, services),
        liveness_url: await acceptedUrl('liveness_url', request.body.liveness_url, services),
      });
      const at = services.now();
      const listener = await store.updateListener(current.client_id, current.queue_id, current.id, {
        patch,
        updatedAt: at,
        expectedRevision: expectedRevision(request),
        event: usageEvent('listener_updated', current.client_id, at, { queue: ref(await requestedQueue(request, services)), listener: ref({ id: current.id, name: patch.name ?? current.name }) }),
      });
      return sendOne(reply, 'listener', await listenerView(listener, services), listenerLinks(request, services, listener), listener.revision);
    },
  );

  app.post<{ Params: ListenerParams }>(
    '/queues/:queue_id/listeners/:listener_id/secret/rotate',
    { config: write, schema: { summary: 'Rotate a listener\'s signing secret', tags: ['listeners'], params: listenerParams } },
    async (request, reply) => {
      const current = await requestedListener(request);
      const at = services.now();
      const listener = await store.rotateListenerSecret(current.client_id, current.queue_id, current.id, newListenerSecret(), at + SECRET_OVERLAP_MS, at);
      const view = { ...(await listenerView(listener, services)), secret: listener.secret, previous_secret_valid_until: listener.previous_secret_until };
      return sendOne(reply, 'listener', view, listenerLinks(request, services, listener), listener.revision);
    },
  );

  app.post<{ Params: ListenerParams; Body: { message_ids?: string[] } | undefined }>(
    '/queues/:queue_id/listeners/:listener_id/redeliver',
    {
      config: write,
      schema: {
        summary: 'Send missed messages to a listener again',
        tags: ['listeners'],
        params: listenerParams,
        body: { type: ['object', 'null'], properties: { message_ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 64 } } } },
      },
    },
    async (request, reply) => {
      const listener = await requestedListener(request);
      const count = await store.redeliver(listener.id, request.body?.message_ids, services.now());
      if (count > 0) services.onPublished();
      const view = await listenerView(await store.getListener(listener.client_id, listener.queue_id, listener.id).then((l) => found(l, 'listener')), services);
      return reply.send({ listener: view, redelivered: count, _links: listenerLinks(request, services, listener) });
    },
  );

  app.delete<{ Params: ListenerParams }>('/queues/:queue_id/listeners/:listener_id', { config: write, schema: { summary: 'Delete a listener', tags: ['listeners'], params: listenerParams } }, async (request, reply) => {
    const listener = await requestedListener(request);
    await store.deleteListener(listener.client_id, listener.queue_id, listener.id, usageEvent('listener_deleted', listener.client_id, services.now(), { queue: ref(await requestedQueue(request, services)), listener: ref(listener) }));
    return sendOne(reply, 'listener', await listenerView(listener, services), listenerLinks(request, services, listener));
  });
}
