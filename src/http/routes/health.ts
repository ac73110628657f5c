import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { linker } from '../links.js';

export function healthRoutes(app: FastifyInstance, services: Services): void {
  app.get('/health', async (request) => ({ status: 'ok', _links: { self: linker(request, services.config.publicUrl)('/health') } }));
}
