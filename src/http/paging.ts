import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page, PageOf } from '../store/types.js';
import { namedLinks, type Link, type Links } from './links.js';

export const DEFAULT_PER_PAGE = 10;
export const MAX_PER_PAGE = 100;

export interface PageQuery {
  page?: number;
  per_page?: number;
}

/** Query-string schema shared by every list route. */
export const pageQuerySchema = {
  page: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  per_page: { type: 'integer', minimum: 1, maximum: MAX_PER_PAGE },
} as const;

export function pageOf(query: PageQuery): Page & { number: number } {
  const number = query.page ?? 1;
  const limit = query.per_page ?? DEFAULT_PER_PAGE;
  return { number, limit, offset: (number - 1) * limit };
}

/** `self`, and `next`/`prev` where those pages exist, keeping the rest of the query. */
export function pageLinks(request: FastifyRequest, link: (path: string) => Link, path: string, page: { number: number; limit: number }, result: PageOf<unknown>): Links {
  const at = (n: number) => {
    const query = new URLSearchParams(request.query as Record<string, string>);
    query.set('page', String(n));
    query.set('per_page', String(page.limit));
    return link(`${path}?${query}`);
  };
  return {
    self: link(path),
    ...(result.hasMore ? { next: at(page.number + 1) } : {}),
    ...(page.number > 1 ? { prev: at(page.number - 1) } : {}),
  };
}

interface ListSpec<T> {
  /** The plural key the items are sent under, e.g. `queues`. */
  key: string;
  /** Path of the collection, for `self`, `next` and `prev`. */
  path: string;
  link: (path: string) => Link;
  fetch: (page: Page) => Promise<PageOf<T>>;
  /** Where one item lives; items are linked by name. */
  itemPath: (item: T) => string;
  view: (item: T) => unknown;
}

/** Every list route: one page of items, each linked by name, with paging links. */
export async function sendList<T extends { id: string; name: string | null }>(request: FastifyRequest<{ Querystring: PageQuery }>, reply: FastifyReply, spec: ListSpec<T>) {
  const page = pageOf(request.query);
  const result = await spec.fetch(page);
  const links = { ...namedLinks(result.items, (item) => spec.link(spec.itemPath(item))), ...pageLinks(request, spec.link, spec.path, page, result) };
  const items = await Promise.all(result.items.map(spec.view));
  return reply.send({ [spec.key]: items, _links: links });
}

export const listQuerySchema = { type: 'object', properties: pageQuerySchema } as const;
