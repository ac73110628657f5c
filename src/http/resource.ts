import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from './errors.js';
import type { Links } from './links.js';

export function etagOf(revision: number): string {
  return `"r${revision}"`;
}

/**
 * The revision `If-Match` expects: undefined without the header (or with `*`). Of a list of
 * tags the first of ours counts; weak or foreign tags never match (If-Match compares strongly).
 */
export function expectedRevision(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined || header.trim() === '*') return undefined;
  for (const tag of header.split(',')) {
    const match = /^"r(\d+)"$/.exec(tag.trim());
    if (match) return Number(match[1]);
  }
  return -1;
}

export function sendOne(reply: FastifyReply, key: string, value: unknown, links: Links, revision?: number) {
  if (revision !== undefined) reply.header('etag', etagOf(revision));
  return reply.send({ [key]: value, _links: links });
}

export function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw notFound(what);
  return value;
}

/** A patch holds only the fields the request set. */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
