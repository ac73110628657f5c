import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { HttpError } from './errors.js';

// Methods some route answers; any other method is not implemented by this server at all.
const IMPLEMENTED = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/**
 * Knows every registered route so an unmatched request can be told apart: a path that exists
 * with other methods (405 + Allow), a method the server never implements (501), or no such
 * path (404).
 */
export class RouteTable {
  private readonly routes: { pattern: RegExp; methods: string[] }[] = [];

  add(route: RouteOptions): void {
    const methods = [route.method].flat().map((m) => m.toUpperCase());
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
    this.routes.push({ pattern: new RegExp(`^${source}/?$`), methods });
  }

  allowedMethods(path: string): string[] {
    const allowed = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) route.methods.forEach((m) => allowed.add(m));
    return [...allowed].filter((m) => IMPLEMENTED.has(m)).sort();
  }

  notFoundHandler() {
    return async (request: FastifyRequest, _reply: FastifyReply) => {
      if (!IMPLEMENTED.has(request.method)) throw new HttpError(501, `the method ${request.method} is not implemented`);
      const allowed = this.allowedMethods(request.url.split('?')[0]!);
      if (allowed.length > 0) {
        throw new HttpError(405, `${request.method} is not allowed here; use ${allowed.join(', ')}`, undefined, { allow: allowed.join(', ') });
      }
      throw new HttpError(404, `no route ${request.method} ${request.url.split('?')[0]}`);
    };
  }
}
