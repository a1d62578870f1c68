import { z } from 'zod';
import { decodeCursor, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../domain/pagination';

/** The query fields of every list route: `limit` and the `cursor` of the previous page, decoded to its key. */
export function pageFields<K>(keyShape: z.ZodType<K>) {
  return {
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: z
      .string()
      .transform((text, ctx) => {
        const key = decodeCursor(text, keyShape);
        if (key === null) ctx.addIssue({ code: 'custom', message: 'is not a cursor of this list (pass nextCursor from the previous page as it is)' });
        return key ?? z.NEVER;
      })
      .optional(),
  };
}

/** A filter of one or more values: `?status=a,b` (or `?status=a&status=b`), each one of `values`. */
export function listParam<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((given) => (Array.isArray(given) ? given : [given]).flatMap((v) => v.split(',')).map((v) => v.trim()))
    .pipe(z.array(z.enum(values)).min(1).max(values.length * 4))
    .meta({ description: `one or more of ${values.join(', ')}, comma-separated (or the parameter repeated)` });
}
