import type { FastifyReply, FastifyRequest } from 'fastify';
import { allows, type Access, type Resource } from '../domain/scopes.js';
import { HttpError, unavailable } from './errors.js';
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

/** The route configs of a resource's reading and writing routes, for `config:`. */
export function scopesOf<R extends Resource>(resource: R) {
  return {
    read: { scope: { resource, access: 'read' } },
    write: { scope: { resource, access: 'write' } },
  } as const;
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
  /** Read on every request: true once the server drains for shutdown. */
  draining: () => boolean;
}

type Authentication = { principal: Principal } | { error: HttpError };

/**
 * The one gate every request passes. Authentication runs first so the rate limit can count per
 * key, but its verdict waits until the rate-limit headers are set, so every response carries
 * them. In order: draining (503), content negotiation (406), lock-out (403),
 * authentication (401, 423), rate limit (429), scope (403). Routes declare their scope in
 * `config.scope`; no handler checks access itself.
 */
export function guard(deps: GuardDeps) {
  return async function onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (deps.draining()) throw unavailable('the server is shutting down; retry shortly');
    const scope = request.routeOptions.config.scope;
    const now = deps.now();
    const auth = scope ? await authenticate(request, deps, now) : undefined;
    const principal = auth && 'principal' in auth ? auth.principal : undefined;
    const rate = limitRate(reply, deps.rateLimiter, principal ? `key:${principal.key.id}` : `ip:${request.ip}`, now);
    // The API answers only JSON; public pages (/docs, /metrics) answer what they are.
    if (scope && !acceptsJson(request.headers.accept)) throw new HttpError(406, 'this API only answers application/json');
    if (auth && 'error' in auth) throw auth.error;
    if (rate) throw rate;
    if (!scope || !principal) return;
    request.principal = principal;
    if (!allows(principal.key.scopes, scope.resource, scope.access, targetIds(request.params))) {
      throw new HttpError(403, `this api key lacks the scope ${scope.resource}:${scope.access} for this target`);
    }
  };
}

async function authenticate(request: FastifyRequest, deps: GuardDeps, now: number): Promise<Authentication> {
  const source = request.ip;
  const locked = deps.lockout.lockedFor(source, now);
  if (locked > 0) {
    return { error: new HttpError(403, 'too many invalid api keys from this source; try again later', undefined, { 'retry-after': String(locked) }) };
  }
  const secret = request.headers['x-api-key'];
  if (typeof secret !== 'string' || secret === '') return { error: new HttpError(401, 'send an api key in the X-API-KEY header') };
  const principal = secret.length <= 256 ? await deps.keys.authenticate(secret) : undefined;
  if (!principal) {
    deps.lockout.recordFailure(source, now);
    return { error: new HttpError(401, 'unknown api key') };
  }
  if (principal.key.status !== 'enabled') return { error: new HttpError(401, 'this api key is disabled') };
  if (principal.client.status === 'suspended') return { error: new HttpError(423, 'this api client is suspended by the operator') };
  return { principal };
}

/** Sets the rate-limit headers; returns the 429 to answer with once the window is used up. */
function limitRate(reply: FastifyReply, limiter: RateLimiter, bucket: string, now: number): HttpError | undefined {
  if (!limiter.enabled) return undefined;
  const decision = limiter.take(bucket, now);
  reply.headers({
    'x-ratelimit-limit': decision.limit,
    'x-ratelimit-remaining': decision.remaining,
    'x-ratelimit-reset': decision.reset,
  });
  if (decision.allowed) return undefined;
  const retryAfter = String(Math.max(1, Math.ceil(decision.reset - now / 1000)));
  return new HttpError(429, 'rate limit exceeded', undefined, { 'retry-after': retryAfter });
}
