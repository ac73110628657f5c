import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DuplicateError, NotFoundError, QuotaExceededError, RevisionConflictError } from '../store/errors.js';

export interface FieldError {
  path: string;
  message: string;
}

/** An error that becomes a JSON response: `{title, status, detail?, errors?}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? STATUS_CODES[status] ?? 'Error');
  }
}

export const notFound = (what = 'resource') => new HttpError(404, `no such ${what}`);

export function errorBody(status: number, detail?: string, errors?: FieldError[]) {
  return {
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail === undefined ? {} : { detail }),
    ...(errors === undefined ? {} : { errors }),
  };
}

/** Errors the store raises, as the client should see them. */
function fromStoreError(err: unknown): HttpError | undefined {
  if (err instanceof NotFoundError) return notFound();
  if (err instanceof DuplicateError) return new HttpError(422, err.message, [{ path: err.field, message: 'already exists' }]);
  if (err instanceof RevisionConflictError) return new HttpError(409, 'the resource changed since the ETag in If-Match was issued');
  if (err instanceof QuotaExceededError) return new HttpError(402, `${err.message}: ask the operator for a higher quota`);
  return undefined;
}

/** Fastify's own errors (validation, body parsing, limits) as client errors, never a 500. */
function fromFastifyError(err: FastifyError): HttpError | undefined {
  if (err.validation) {
    const errors = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}${
        v.keyword === 'required' ? `.${(v.params as { missingProperty: string }).missingProperty}` : ''
      }`,
      message: v.message ?? 'is invalid',
    }));
    return new HttpError(400, errors.map((e) => `${e.path} ${e.message}`).join('; '), errors);
  }
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const detail = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'the request body must be application/json' : err.message;
    return new HttpError(status, detail);
  }
  return undefined;
}

// How long a client should wait before retrying a 503.
export const RETRY_AFTER_SECONDS = '5';

export const unavailable = (detail: string) => new HttpError(503, detail, undefined, { 'retry-after': RETRY_AFTER_SECONDS });

/** Every error becomes the API's JSON error; only unexpected ones are logged, and never sent. */
export function errorHandler(storeUnavailable: (err: unknown) => boolean) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let known = err instanceof HttpError ? err : (fromStoreError(err) ?? fromFastifyError(err));
    if (!known && storeUnavailable(err)) {
      request.log.warn({ err }, 'storage unavailable');
      known = unavailable('storage is unavailable; retry later');
    }
    if (!known) {
      request.log.error({ err }, 'unexpected failure');
      return reply.code(500).send(errorBody(500));
    }
    return reply.code(known.status).headers(known.headers).send(errorBody(known.status, known.detail, known.errors));
  };
}
