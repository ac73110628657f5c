import type { FastifyRequest } from 'fastify';

export interface Link {
  href: string;
}
export type Links = Record<string, Link>;

/** Absolute base of `_links`: the configured public URL, or where the request was sent. */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  return `${request.protocol}://${request.host}`;
}

/**
 * A link builder for one request. Paths are given without the `/v1` prefix, as the published
 * `_links` show them.
 */
export function linker(request: FastifyRequest, publicUrl: string | undefined) {
  const base = baseUrl(request, publicUrl);
  return (path: string): Link => ({ href: `${base}${path}` });
}

// Link names the API itself uses; an item with such a name is linked by its id instead.
const RESERVED = new Set(['self', 'next', 'prev', 'queue', 'listeners', 'messages', 'schema', 'api_key']);

/**
 * Links to sub-resources keyed by name, as the docs show them; an item without a name, with a
 * reserved name, or whose name another item already took, is keyed by its id.
 */
export function namedLinks<T extends { id: string; name: string | null }>(items: readonly T[], href: (item: T) => Link): Links {
  const links: Links = {};
  for (const item of items) {
    const key = item.name && !RESERVED.has(item.name) && !(item.name in links) ? item.name : item.id;
    links[key] = href(item);
  }
  return links;
}
