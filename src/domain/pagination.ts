import { z } from 'zod';
import type { TimeKey } from '../db/queries/keyset';

/**
 * Cursor pagination of the list routes: a page is `{ data, nextCursor }`; the cursor is the last
 * row's key, JSON in base64url (opaque to callers; checked against the list's key shape when it
 * comes back, so a cursor of another list or a made-up one is refused).
 */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

export function encodeCursor(key: object): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key a cursor holds, or null if it is not one of this shape. */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T | null {
  if (!/^[A-Za-z0-9_-]{1,1000}$/.test(cursor)) return null;
  try {
    const parsed = shape.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Newest first by (created_at, id). */
export const timeKeyShape: z.ZodType<TimeKey> = z.object({ createdUs: z.string().regex(/^-?\d{1,19}$/), id: z.uuid() }).strict();
/** A run's leads in order. */
export const positionKeyShape = z.object({ position: z.number().int().min(0) }).strict();
export type PositionKey = z.output<typeof positionKeyShape>;

/** The rows of one page, fetched `limit + 1` so a next page is known without a count, and its next cursor. */
export function pageRows<R>(rows: R[], limit: number, keyOf: (row: R) => object): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(keyOf(page.at(-1)!)) : null };
}

export const timeKeyOf = (row: { created_us: string; id: string }): TimeKey => ({ createdUs: row.created_us, id: row.id });
