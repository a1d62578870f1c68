/** What commands print on stdout: JSON with --json, otherwise a table (lists) or `field: value` lines (one thing). */

type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function printJson(value: unknown) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One thing: `field: value`, nested values as compact JSON. */
export function printRecord(record: Row, json: boolean) {
  if (json) return printJson(record);
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [k, v] of Object.entries(record)) process.stdout.write(`${`${k}:`.padEnd(width + 2)}${cell(v)}\n`);
}

/** Many things: the chosen columns, aligned; with --json every field of every item. */
export function printTable(rows: Row[], columns: string[], json: boolean) {
  if (json) return printJson(rows);
  if (rows.length === 0) return void process.stderr.write('(none)\n');
  const cells = rows.map((r) => columns.map((c) => cell(c.split('.').reduce<unknown>((v, k) => (v as Row | undefined)?.[k], r))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => `${values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  process.stdout.write(line(columns.map((c) => c.toUpperCase())));
  for (const r of cells) process.stdout.write(line(r));
}
