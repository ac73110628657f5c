import type { FastifyReply, FastifyRequest } from 'fastify';
import { allows, type Access, type Resource } from '../domain/scopes.js';
import { HttpError } from './errors.js';
import type { KeyAuthenticator, Principal } from './keys.js';
import type { Lockout } from './lockout.js';
import type { RateLimiter } from './rate-limit.js';

export interface RouteScope {
  resource: Resource;
  access: Access;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a key needs for this route; routes without one are public. */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

// Path parameters naming resources, outermost first: scope targets match any of them.
const ID_PARAMS = ['api_client_id', 'api_key_id', 'queue_id', 'listener_id', 'message_id', 'schema_id', 'schedule_id'];

export function targetIds(params: unknown): string[] {
  const p = (params ?? {}) as Record<string, string | undefined>;
  return ID_PARAMS.map((name) => p[name]).filter((id): id is string => typeof id === 'string');
}

/** `Accept` must allow JSON: absent, `*\/*`, `application/*` or `application/json`. */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) return false;
    return type === '*/*' || type === 'application/*' || type === 'application/json' || /^application\/[\w.+-]*\+json$/.test(type);
  });
}

export interface GuardDeps {
  keys: KeyAuthenticator;
  lockout: Lockout;
  rateLimiter: RateLimiter;
  now: () => number;
}

/**
 * The one gate every request passes, in this order: content negotiation (406), lock-out (403),
 * authentication (401, 423), rate limit (429, headers on every response), scope (403).
 * Routes declare their scope in `config.scope`; no handler checks access itself.
 */
export function guard(deps: GuardDeps) {
  return async function onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!acceptsJson(request.headers.accept)) throw new HttpError(406, 'this API only answers application/json');
    const scope = request.routeOptions.config.scope;
    const now = deps.now();
    const principal = scope ? await authenticate(request, deps, now) : undefined;
    limitRate(reply, deps.rateLimiter, principal ? `key:${principal.key.id}` : `ip:${request.ip}`, now);
    if (!scope || !principal) return;
    request.principal = principal;
    if (!allows(principal.key.scopes, scope.resource, scope.access, targetIds(request.params))) {
      throw new HttpError(403, `this api key lacks the scope ${scope.resource}:${scope.access} for this target`);
    }
  };
}

async function authenticate(request: FastifyRequest, deps: GuardDeps, now: number): Promise<Principal> {
  const source = request.ip;
  const locked = deps.lockout.lockedFor(source, now);
  if (locked > 0) {
    throw new HttpError(403, 'too many invalid api keys from this source; try again later', undefined, { 'retry-after': String(locked) });
  }
  const secret = request.headers['x-api-key'];
  if (typeof secret !== 'string' || secret === '') throw new HttpError(401, 'send an api key in the X-API-KEY header');
  const principal = secret.length <= 256 ? await deps.keys.authenticate(secret) : undefined;
  if (!principal) {
    deps.lockout.recordFailure(source, now);
    throw new HttpError(401, 'unknown api key');
  }
  if (principal.key.status !== 'enabled') throw new HttpError(401, 'this api key is disabled');
  if (principal.client.status === 'suspended') throw new HttpError(423, 'this api client is suspended by the operator');
  return principal;
}

function limitRate(reply: FastifyReply, limiter: RateLimiter, bucket: string, now: number): void {
  if (!limiter.enabled) return;
  const decision = limiter.take(bucket, now);
  reply.headers({
    'x-ratelimit-limit': decision.limit,
    'x-ratelimit-remaining': decision.remaining,
    'x-ratelimit-reset': decision.reset,
  });
  if (!decision.allowed) {
    const retryAfter = String(Math.max(1, Math.ceil(decision.reset - now / 1000)));
    throw new HttpError(429, 'rate limit exceeded', undefined, { 'retry-after': retryAfter });
  }
}
