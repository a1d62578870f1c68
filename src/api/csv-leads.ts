import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { z } from 'zod';
import { HttpError } from './errors';
import { RESERVED_VARIABLE_PREFIX, VARIABLE_KEY } from '../calls/instructions';
import { timeZoneField, variablesField } from './campaign-fields';
import { e164Phone, isStorableText } from './validation';

/**
 * A run's leads as CSV: a header row, a phone column, optional name and time-zone columns, and every
 * other column one of the lead's variables (its header lowercased, other characters turned into `_`,
 * so "First Name" is `first_name`; an empty cell sets nothing). Parsed as the body streams in: the
 * text is never held whole, only the leads it makes.
 */

export interface CsvColumns {
  phone: string;
  name: string;
  timeZone: string;
}

export const DEFAULT_CSV_COLUMNS: CsvColumns = { phone: 'phone', name: 'name', timeZone: 'time_zone' };

/** The most a CSV body may be: 100,000 leads with a handful of columns fit in far less. */
export const MAX_CSV_BYTES = 50 * 1024 * 1024;

/** Row problems reported at most (the count says how many more there were). */
const MAX_REPORTED = 100;

export function variableKeyOf(header: string): string {
  return header
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export interface CsvLead {
  phone: string;
  name?: string | undefined;
  timeZone?: string | undefined;
  variables?: Record<string, string> | undefined;
}

/** What is wrong with the header row, if anything: no phone column, a column twice, a header no variable can be named after. */
function headerProblem(header: string[], keys: { phone: string; name: string; timeZone: string }): string | null {
  if (!header.includes(keys.phone)) return `no "${keys.phone}" column (set phoneColumn to the column that holds the numbers)`;
  const seen = new Set<string>();
  for (const key of header) {
    if (seen.has(key)) return `two columns are both "${key}" once lowercased`;
    seen.add(key);
    if (key === keys.phone || key === keys.name || key === keys.timeZone) continue;
    if (!VARIABLE_KEY.test(key)) return `the column "${key}" cannot name a variable: a header must start with a letter, and hold at most 40 letters, digits and _`;
    if (key.startsWith(RESERVED_VARIABLE_PREFIX)) return `the column "${key}": headers starting ${RESERVED_VARIABLE_PREFIX} are Outdial's own`;
  }
  return null;
}

interface RowProblem {
  line: number;
  column: string;
  message: string;
}

const nameCell = z.string().max(200);

/**
 * The leads of a CSV body and the SHA-256 of its bytes (what an Idempotency-Key is bound to). Any bad
 * row rejects the whole upload with 400 `invalid_leads`, each problem with its line and column.
 */
export async function readCsvLeads(body: Readable, columns: CsvColumns, maxLeads: number): Promise<{ leads: CsvLead[]; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > MAX_CSV_BYTES) return done(new HttpError(413, 'entity_too_large', `the CSV is over ${MAX_CSV_BYTES / 1024 / 1024} MB`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const keys = { phone: variableKeyOf(columns.phone), name: variableKeyOf(columns.name), timeZone: variableKeyOf(columns.timeZone) };
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    info: true,
    columns: (given: string[]) => (header = given.map(variableKeyOf)),
  });
  const leads: CsvLead[] = [];
  const problems: RowProblem[] = [];
  let problemCount = 0;
  const problem = (p: RowProblem) => {
    problemCount++;
    if (problems.length < MAX_REPORTED) problems.push(p);
  };
  let headerChecked = false;
  let header: string[] = [];

  // A Writable, the pipeline's end: nothing reads from it, so it must not be a Transform.
  const collect = new Writable({
    objectMode: true,
    write({ record, info }: { record: Record<string, string>; info: { lines: number } }, _encoding, done) {
      if (!headerChecked) {
        headerChecked = true;
        const bad = headerProblem(header, keys);
        if (bad) return done(new HttpError(400, 'invalid_csv', `line 1: ${bad}; nothing was created`, { line: 1 }));
      }
      if (leads.length >= maxLeads) return done(new HttpError(400, 'invalid_csv', `line ${info.lines}: more than ${maxLeads} leads in one run`));
      const line = info.lines;
      for (const [column, value] of Object.entries(record)) {
        if (!isStorableText(value)) problem({ line, column, message: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
      }
      const lead: CsvLead = { phone: record[keys.phone] ?? '' };
      const phone = e164Phone.safeParse(lead.phone);
      if (!phone.success) problem({ line, column: keys.phone, message: phone.error.issues[0]?.message ?? 'invalid phone number' });
      const name = record[keys.name];
      if (name) {
        if (nameCell.safeParse(name).success) lead.name = name;
        else problem({ line, column: keys.name, message: 'must be at most 200 characters' });
      }
      const zone = record[keys.timeZone];
      if (zone) {
        if (timeZoneField.safeParse(zone).success) lead.timeZone = zone;
        else problem({ line, column: keys.timeZone, message: 'must be an IANA time zone, for example America/Phoenix' });
      }
      const variables = Object.fromEntries(Object.entries(record).filter(([k, v]) => v !== '' && k !== keys.phone && k !== keys.name && k !== keys.timeZone));
      if (Object.keys(variables).length > 0) {
        const parsed = variablesField.safeParse(variables);
        if (parsed.success) lead.variables = parsed.data;
        else for (const issue of parsed.error.issues) problem({ line, column: String(issue.path[0] ?? '(variables)'), message: issue.message });
      }
      leads.push(lead);
      done();
    },
  });

  try {
    await pipeline(body, meter, parser, collect);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // csv-parse's own errors (a row with the wrong number of cells, an unclosed quote) carry the line.
    const e = err as { code?: string; message?: string; lines?: number };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw new HttpError(400, 'invalid_csv', `line ${e.lines ?? '?'}: ${e.message ?? e.code}; nothing was created`, { line: e.lines ?? null, code: e.code });
    }
    throw err;
  }
  if (leads.length === 0 && problemCount === 0) throw new HttpError(400, 'invalid_csv', 'the CSV holds no lead: a header row and at least one row are needed');
  if (problemCount > 0) {
    const first = problems[0]!;
    throw new HttpError(
      400,
      'invalid_leads',
      `${problemCount} problem${problemCount === 1 ? '' : 's'} in the CSV, the first on line ${first.line}, column ${first.column}: ${first.message}; nothing was created`,
      problems,
    );
  }
  return { leads, sha256: hash.digest('hex') };
}
