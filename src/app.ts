import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from './config.js';
import { SchemaCache } from './domain/schema-cache.js';
import { systemResolver, type HostResolver } from './domain/target-url.js';
import { errorBody, errorHandler, HttpError } from './http/errors.js';
import { guard } from './http/guard.js';
import { API_PREFIX, registerApiDocs } from './http/openapi.js';
import { KeyAuthenticator } from './http/keys.js';
import { Lockout } from './http/lockout.js';
import { RouteTable } from './http/methods.js';
import { RateLimiter } from './http/rate-limit.js';
import { validatorCompiler } from './http/validation.js';
import { apiClientRoutes } from './http/routes/api-clients.js';
import { apiKeyRoutes } from './http/routes/api-keys.js';
import { eventRoutes } from './http/routes/events.js';
import { healthRoutes } from './http/routes/health.js';
import { listenerRoutes } from './http/routes/listeners.js';
import { messageRoutes } from './http/routes/messages.js';
import { opsRoutes } from './http/routes/ops.js';
import { queueRoutes } from './http/routes/queues.js';
import { scheduleRoutes } from './http/routes/schedules.js';
import type { Services } from './http/services.js';
import { Metrics } from './metrics.js';
import type { Store } from './store/types.js';

export interface AppOptions {
  config: Config;
  store: Store;
  logger: FastifyBaseLogger;
  now?: () => number;
  resolveHost?: HostResolver;
  /** Called after messages are stored, to wake an in-process delivery worker. */
  onPublished?: () => void;
  /** Called after schedules change, to wake an in-process scheduler. */
  onScheduled?: () => void;
}

// Room for JSON escaping around the largest `data` a message may carry.
const bodyLimitFor = (maxDataBytes: number) => maxDataBytes * 2 + 64 * 1024;

function apiRoutes(app: FastifyInstance, services: Services): void {
  apiClientRoutes(app, services);
  apiKeyRoutes(app, services);
  queueRoutes(app, services);
  listenerRoutes(app, services);
  messageRoutes(app, services);
  scheduleRoutes(app, services);
  eventRoutes(app, services);
  healthRoutes(app, services);
}

// The publish route under either prefix: a 2xx there is one message published.
const PUBLISH_ROUTE = /\/queues\/:queue_id\/messages$/;

export function buildApp(options: AppOptions): { app: FastifyInstance; services: Services; metrics: Metrics } {
  const { config, store } = options;
  const now = options.now ?? Date.now;
  const metrics = new Metrics(store);
  const services: Services = {
    config,
    store,
    now,
    keys: new KeyAuthenticator(store, now),
    schemas: new SchemaCache(),
    resolveHost: options.resolveHost ?? systemResolver,
    draining: false,
    onPublished: options.onPublished ?? (() => {}),
    onScheduled: options.onScheduled ?? (() => {}),
  };

  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger,
    logController: new RequestLog(options.logger),
    // Every log line of a request carries its id (`reqId`), unique across processes; the
    // response carries it too (X-Request-Id), so a client's report finds the server's lines.
    genReqId: () => randomUUID(),
    bodyLimit: bodyLimitFor(config.maxDataBytes),
    trustProxy: false,
    return503OnClosing: false,
    // Long path ids reach validation (a 400 naming the parameter) instead of the router's 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    // Requests the router cannot even take apart (bad percent-escapes) get the API's 400.
    frameworkErrors: (err, _request, reply) => void (reply as FastifyReply).code(400).send(errorBody(400, err.message)),
    // Malformed HTTP still gets the API's error shape.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy(err);
      const body = JSON.stringify(errorBody(400, 'malformed HTTP request'));
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  installBodyParsing(app);
  app.setValidatorCompiler(validatorCompiler());
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route));
  app.addHook(
    'onRequest',
    guard({
      keys: services.keys,
      lockout: new Lockout(config.lockoutThreshold, config.lockoutWindowMs, config.lockoutDurationMs),
      rateLimiter: new RateLimiter(config.rateLimitPerMinute),
      now,
      draining: () => services.draining,
    }),
  );
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  app.addHook('onSend', shapeResponse);
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    metrics.observeRequest(request.method, route ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode < 300 && (request.method === 'POST' || request.method === 'PUT') && route !== undefined && PUBLISH_ROUTE.test(route)) {
      metrics.messagePublished();
    }
    // While draining, a keep-alive connection whose last answer just went out would hold the
    // shutdown open until it times out: close it (a connection with answers still to send is
    // not idle, and is closed after its last one).
    if (services.draining) app.server.closeIdleConnections();
    done();
  });
  app.setErrorHandler(errorHandler((err) => store.isUnavailable(err)));
  // Requests still arriving while the server drains get the API's own 503 (see guard).
  app.addHook('preClose', async () => {
    services.draining = true;
  });
  app.setNotFoundHandler(routes.notFoundHandler());
  registerApiDocs(app, config);
  app.register(async (scope) => apiRoutes(scope, services));
  app.register(async (scope) => apiRoutes(scope, services), { prefix: API_PREFIX });
  app.register(async (scope) => opsRoutes(scope, services, metrics));
  return { app, services, metrics };
}

/**
 * Per-request lines only at `debug` (one when a request completes: method, URL, status, time);
 * at `info` they would cost more than the request on the publish path. Errors of requests are
 * logged by the error handler, with the request's id, at any level. The URL is the only part
 * of a request logged: never headers (api keys) or bodies (message data, listener secrets).
 */
class RequestLog extends LogController {
  constructor(logger: FastifyBaseLogger) {
    super({ disableRequestLogging: !['debug', 'trace'].includes(logger.level) });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const fields = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime * 100) / 100 };
    if (error) reply.log.error({ ...fields, err: error }, 'request failed');
    else reply.log.debug(fields, 'request completed');
  }
}

/**
 * JSON only. An empty body is no body (clients send `Content-Type: application/json` on a
 * DELETE too); `__proto__` keys are refused rather than parsed.
 */
function installBodyParsing(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, body as string, (err, parsed) => {
      if (err) return done(err, undefined);
      if (!wellFormed(parsed)) return done(new HttpError(400, 'the body holds a string with a lone surrogate (not valid Unicode)'), undefined);
      return done(null, parsed);
    });
  });
}

/**
 * Whether every string in a parsed body is valid Unicode: a lone surrogate (`"\ud800"`) would
 * be stored as replacement characters, silently changing the data.
 */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === 'object') return Object.entries(value).every(([k, v]) => k.isWellFormed() && wellFormed(v));
  return true;
}

/**
 * Response shaping every JSON answer shares: `?pretty=true` indents, and
 * `Prefer: return=minimal` turns a 200 into a bodyless 204. Other media (the reference page,
 * metrics) pass as they are.
 */
async function shapeResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
  if (reply.statusCode === 200 && /\breturn=minimal\b/i.test(String(request.headers.prefer ?? ''))) {
    reply.code(204);
    reply.removeHeader('content-type');
    return null;
  }
  if (typeof payload === 'string' && (request.query as { pretty?: string } | undefined)?.pretty === 'true') {
    return JSON.stringify(JSON.parse(payload), null, 2);
  }
  return payload;
}
