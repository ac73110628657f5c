import type { FastifyInstance } from 'fastify';
import { EVENT_CATEGORIES, type EventCategory, type UsageEvent } from '../../store/types.js';
import { scopesOf } from '../guard.js';
import { linker } from '../links.js';
import type { Services } from '../services.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const eventsQuery = {
  type: 'object',
  properties: {
    events: { enum: ['all', ...EVENT_CATEGORIES] },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    startAfter: { type: 'integer', minimum: 0 },
    startAfterId: { type: 'string', maxLength: 64 },
  },
} as const;
interface EventsQuery {
  events?: 'all' | EventCategory;
  limit?: number;
  startAfter?: number;
  startAfterId?: string;
}

function eventView(event: UsageEvent) {
  const { client_id, ...rest } = event;
  return { ...rest, client: { id: client_id } };
}

export function eventRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;

  app.get<{ Querystring: EventsQuery }>(
    '/events',
    { config: scopesOf('events').read, schema: { summary: 'List usage events of the past 24 hours', tags: ['usage'], querystring: eventsQuery } },
    async (request, reply) => {
      const { events = 'all', limit = 100, startAfter, startAfterId = '' } = request.query;
      // Only the past 24 hours are served; an older cursor starts at their beginning.
      const horizon = services.now() - DAY_MS;
      const after = startAfter === undefined || startAfter < horizon ? { at: horizon, id: '' } : { at: startAfter, id: startAfterId };
      const found = await store.listEvents({ clientId: request.principal.client.id, category: events === 'all' ? undefined : events, after, limit });
      const link = linker(request, services.config.publicUrl);
      const last = found.at(-1);
      const next =
        last && found.length === limit
          ? { next: link(`/events?${new URLSearchParams({ events, limit: String(limit), startAfter: String(last.stored_at), startAfterId: last.id })}`) }
          : {};
      return reply.send({ events: found.map(eventView), _links: { self: link('/events'), ...next } });
    },
  );

  app.get('/stats/messages', { config: scopesOf('stats').read, schema: { summary: 'Count usage events by type', tags: ['usage'] } }, async (request, reply) => {
    const now = services.now();
    const midnight = now - (now % DAY_MS);
    const counts = await store.countEvents(request.principal.client.id, { last24h: now - DAY_MS, last1h: now - HOUR_MS, today: midnight });
    return reply.send({
      aggregated_api_usage_events: { last_24_hours: counts.last24h, last_1_hours: counts.last1h, today_so_far: counts.today },
      _links: { self: linker(request, services.config.publicUrl)('/stats/messages') },
    });
  });
}
