import { z } from 'zod';
import { parseInput } from './requestHelpers';

/** The largest page any list route answers, and its default. */
export const MAX_PAGE_SIZE = 500;

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

/** `?limit=&offset=` of a list route, validated (a 400 naming the problem). */
export function readPage(query: Record<string, unknown>) {
  const { limit, offset } = parseInput(
    pageQuery,
    { limit: query.limit, offset: query.offset },
    'query',
  );
  return { limit: limit ?? MAX_PAGE_SIZE, offset: offset ?? 0 };
}

/** One page of `items`, with the total and where the next page starts. */
export function pageOf<T>(
  items: T[],
  page: { limit: number; offset: number },
): { items: T[]; totalItems: number; nextOffset?: number } {
  const end = page.offset + page.limit;
  return {
    items: items.slice(page.offset, end),
    totalItems: items.length,
    ...(end < items.length ? { nextOffset: end } : {}),
  };
}
