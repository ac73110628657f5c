import type { FastifyInstance } from 'fastify';
import { unavailable } from '../errors.js';
import type { Services } from '../services.js';
import { linker } from '../links.js';

// Longer than a healthy store ever takes; a hung store must not hang the probe.
const READY_TIMEOUT_MS = 2_000;

/** Settles like `work`, or rejects once `ms` have passed. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: FastifyInstance, services: Services): void {
  app.get('/health', { schema: { summary: 'Liveness: the process is up', tags: ['operations'] } }, async (request) => ({
    status: 'ok',
    _links: { self: linker(request, services.config.publicUrl)('/health') },
  }));

  // Draining is answered by the guard (503). The queries read the tables of the newest
  // migrations, which a store applies when it opens.
  app.get('/ready', { schema: { summary: 'Readiness: the store answers', tags: ['operations'] } }, async (request) => {
    try {
      await within(Promise.all([services.store.nextDueAt(), services.store.nextTickAt()]), READY_TIMEOUT_MS);
    } catch (err) {
      request.log.warn({ err }, 'not ready: the store does not answer');
      throw unavailable('the store does not answer; retry later');
    }
    return { status: 'ready', _links: { self: linker(request, services.config.publicUrl)('/ready') } };
  });
}
