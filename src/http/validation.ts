import { Ajv } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Bodies are validated as sent: a number where a string belongs is a 400, never coerced.
 * Query strings and path parameters arrive as text, so they are coerced to their types.
 */
export function validatorCompiler(): FastifySchemaCompiler<any> {
  const strict = new Ajv({ coerceTypes: false, allErrors: true, removeAdditional: false, useDefaults: false });
  const coercing = new Ajv({ coerceTypes: true, allErrors: true, removeAdditional: false, useDefaults: true });
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema);
}
