import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deliveryTime } from '../../domain/delivery-time.js';
import { ref, usageEvent } from '../../domain/events.js';
import { dataProblem, newMessage } from '../../domain/messages.js';
import { canonicalJson } from '../../domain/schema.js';
import { DuplicateError } from '../../store/errors.js';
import type { IdempotentPublish, Message, Store, UsageEvent } from '../../store/types.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import type { Links } from '../links.js';
import { expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';
import { queueChildLists, queueLink, queueParams, requestedQueue, type QueueParams } from './queues.js';

const messageName = { anyOf: [nameSchema, { type: 'null' }] } as const;
const publishBody = {
  type: 'object',
  properties: {
    name: messageName,
    data: { type: 'string' },
    delay: { anyOf: [{ type: 'string', maxLength: 32 }, { type: 'integer', minimum: 0 }] },
    deliver_at: { type: 'integer', minimum: 0 },
  },
  required: ['data'],
} as const;
const renameBody = { type: 'object', properties: { name: messageName }, required: ['name'] } as const;

interface PublishBody {
  name?: string | null;
  data: string;
  delay?: string | number;
  deliver_at?: number;
}

const messageParams = paramsSchema('queue_id', 'message_id');
type MessageParams = QueueParams & { message_id: string };

/** A message in a list: without its data, which may be large. */
function messageSummary(message: Message) {
  return { id: message.id, name: message.name, queue_id: message.queue_id, created_at: message.created_at, updated_at: message.updated_at };
}

function messageView(message: Message) {
  return {
    id: message.id,
    name: message.name,
    queue_id: message.queue_id,
    data: message.data,
    deliver_at: message.deliver_at ?? message.created_at,
    ...(message.schedule_id ? { schedule_id: message.schedule_id } : {}),
    created_at: message.created_at,
    updated_at: message.updated_at,
  };
}

function messageLinks(request: FastifyRequest, services: Services, message: { id: string; queue_id: string }): Links {
  const at = queueLink(request, services);
  return { self: at(message.queue_id, `/messages/${message.id}`), queue: at(message.queue_id) };
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key of a publish and a hash of what it asks, or undefined without one. */
function idempotencyOf(request: FastifyRequest, queueId: string): { key: string; request_hash: string } | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError(400, 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return { key, request_hash: createHash('sha256').update(`${queueId}\n${canonicalJson(request.body)}`).digest('hex') };
}

/** How many deliveries the publish made, or the earlier publish of its Idempotency-Key. */
interface Published {
  deliveries: number;
  earlier?: IdempotentPublish;
}

/**
 * Stores the message, unless its Idempotency-Key was used before: then nothing is stored and
 * the first publish is returned, also when the same key arrives twice at once.
 */
async function publishOnce(
  store: Store,
  message: Message,
  event: UsageEvent,
  view: Record<string, unknown>,
  idempotency: { key: string; request_hash: string } | undefined,
): Promise<Published> {
  if (!idempotency) return { deliveries: await store.createMessage(message, event) };
  const earlier = await store.findIdempotentPublish(message.client_id, idempotency.key);
  if (earlier) return { deliveries: 0, earlier };
  try {
    return { deliveries: await store.createMessage(message, event, { ...idempotency, response: view, created_at: message.created_at }) };
  } catch (err) {
    const raced = err instanceof DuplicateError && err.field === 'Idempotency-Key';
    const first = raced && (await store.findIdempotentPublish(message.client_id, idempotency.key));
    if (first) return { deliveries: 0, earlier: first };
    throw err;
  }
}

/** The first answer again, unless the key came with another request (409). */
function sendReplay(request: FastifyRequest, reply: FastifyReply, services: Services, first: IdempotentPublish, asked: { request_hash: string }) {
  if (first.request_hash !== asked.request_hash) {
    throw new HttpError(409, 'this Idempotency-Key was used with another request in the past 24 hours');
  }
  reply.header('idempotent-replayed', 'true');
  return sendOne(reply, 'message', first.response, messageLinks(request, services, first.response as { id: string; queue_id: string }), 1);
}

export function messageRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('messages');

  app.route<{ Params: QueueParams; Body: PublishBody }>({
    method: ['POST', 'PUT'],
    url: '/queues/:queue_id/messages',
    config: write,
    schema: { summary: 'Publish a message (PUT publishes too)', tags: ['messages'], params: queueParams, body: publishBody },
    handler: async (request, reply) => {
      const queue = await requestedQueue(request, services);
      const idempotency = idempotencyOf(request, queue.id);
      const at = services.now();
      const when = deliveryTime(request.body, at);
      if (!when.ok) throw new HttpError(when.status, when.reason);
      const problem = dataProblem(request.body.data, queue, services.schemas, services.config.maxDataBytes);
      if (problem) throw new HttpError(problem.status, problem.detail, problem.issues);
      const message = newMessage(queue, { name: request.body.name ?? null, data: request.body.data, deliverAt: when.at }, at);
      const view = { id: message.id, name: message.name, queue_id: queue.id, created_at: at, deliver_at: when.at };
      const event = usageEvent('message_added', queue.client_id, at, { queue: ref(queue), message: ref(message) });
      const published = await publishOnce(services.store, message, event, view, idempotency);
      if (published.earlier && idempotency) return sendReplay(request, reply, services, published.earlier, idempotency);
      if (published.deliveries > 0) services.onPublished();
      return sendOne(reply, 'message', view, messageLinks(request, services, message), 1);
    },
  });

  queueChildLists(app, services, { key: 'messages', fetch: (client, queue, page) => store.listMessages(client, queue, page), view: messageSummary });

  const requestedMessage = async (request: FastifyRequest<{ Params: MessageParams }>) =>
    found(await store.getMessage(request.principal.client.id, request.params.queue_id, request.params.message_id), 'message');

  app.get<{ Params: MessageParams }>('/queues/:queue_id/messages/:message_id', { config: read, schema: { summary: 'Get a message and its deliveries', tags: ['messages'], params: messageParams } }, async (request, reply) => {
    const message = await requestedMessage(request);
    const view = { ...messageView(message), deliveries: await store.deliveriesOf(message.id) };
    return sendOne(reply, 'message', view, messageLinks(request, services, message), message.revision);
  });

  app.put<{ Params: MessageParams; Body: { name: string | null } }>(
    '/queues/:queue_id/messages/:message_id',
    { config: write, schema: { summary: 'Rename a message', tags: ['messages'], params: messageParams, body: renameBody } },
    async (request, reply) => {
      const current = await requestedMessage(request);
      const at = services.now();
      const message = await store.updateMessage(current.client_id, current.queue_id, current.id, {
        patch: { name: request.body.name },
        updatedAt: at,
        expectedRevision: expectedRevision(request),
        event: usageEvent('message_updated', current.client_id, at, { queue: ref(await requestedQueue(request, services)), message: ref({ id: current.id, name: request.body.name }) }),
      });
      return sendOne(reply, 'message', messageView(message), messageLinks(request, services, message), message.revision);
    },
  );

  app.delete<{ Params: MessageParams }>('/queues/:queue_id/messages/:message_id', { config: write, schema: { summary: 'Delete a message', tags: ['messages'], params: messageParams } }, async (request, reply) => {
    const message = await requestedMessage(request);
    await store.deleteMessage(message.client_id, message.queue_id, message.id, usageEvent('message_deleted', message.client_id, services.now(), { queue: ref(await requestedQueue(request, services)), message: ref(message) }));
    return sendOne(reply, 'message', messageView(message), messageLinks(request, services, message));
  });
}
