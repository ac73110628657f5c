import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether an `Authorization` header carries the bearer token, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/** Operational routes outside the versioned API: Prometheus metrics. */
export function opsRoutes(app: FastifyInstance, services: Services, metrics: Metrics): void {
  const token = services.config.metricsToken;
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (request, reply) => {
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      throw new HttpError(401, 'send the metrics token in the Authorization header: Bearer <DISCUE_METRICS_TOKEN>', undefined, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });
}
