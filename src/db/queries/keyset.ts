/**
 * Keyset pagination on (created_at, id), newest first. The time travels as whole microseconds since
 * the epoch (a string: beyond a JS number's exact range), so a page boundary is exact where a JS Date
 * (milliseconds) would skip or repeat rows created within the same millisecond.
 */
export interface TimeKey {
  createdUs: string;
  id: string;
}

/** The row's created_at as µs since the epoch (exact: extract returns numeric). */
export const CREATED_US = `(extract(epoch FROM created_at) * 1000000)::bigint::text`;

/** The timestamp of a µs-since-epoch parameter. */
export const FROM_US = (param: string) => `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;
