import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { HttpError } from './errors';
import { RESERVED_VARIABLE_PREFIX, VARIABLE_KEY } from '../calls/instructions';
import { isTimeZoneName, TIME_ZONE_MESSAGE, variablesProblems } from './campaign-fields';
import { E164_PHONE_MESSAGE, isE164Phone, isStorableText } from './validation';

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

export const MAX_LEAD_NAME_LENGTH = 200;

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
  const leads: CsvLead[] = [];
  const problems: RowProblem[] = [];
  let problemCount = 0;
  const problem = (p: RowProblem) => {
    problemCount++;
    if (problems.length < MAX_REPORTED) problems.push(p);
  };
  let header: string[] = [];
  /** The columns that are variables (all but phone, name and time zone), known once the header is checked. */
  let variableColumns: string[] | null = null;

  /** One row, checked in plain code (no schema per row: 100,000 rows must ingest in seconds). */
  function readRow(record: Record<string, string>, line: number): void {
    if (!variableColumns) {
      const bad = headerProblem(header, keys);
      if (bad) throw new HttpError(400, 'invalid_csv', `line 1: ${bad}; nothing was created`, { line: 1 });
      variableColumns = header.filter((k) => k !== keys.phone && k !== keys.name && k !== keys.timeZone);
    }
    if (leads.length >= maxLeads) throw new HttpError(400, 'invalid_csv', `line ${line}: more than ${maxLeads} leads in one run`);
    let storable = true;
    for (const column of header) {
      if (!isStorableText(record[column] ?? '')) {
        storable = false;
        problem({ line, column, message: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
      }
    }
    const lead: CsvLead = { phone: record[keys.phone] ?? '' };
    if (!isE164Phone(lead.phone)) problem({ line, column: keys.phone, message: E164_PHONE_MESSAGE });
    const name = record[keys.name];
    if (name) {
      if (name.length <= MAX_LEAD_NAME_LENGTH) lead.name = name;
      else problem({ line, column: keys.name, message: `must be at most ${MAX_LEAD_NAME_LENGTH} characters` });
    }
    const zone = record[keys.timeZone];
    if (zone) {
      if (isTimeZoneName(zone)) lead.timeZone = zone;
      else problem({ line, column: keys.timeZone, message: TIME_ZONE_MESSAGE });
    }
    let variables: Record<string, string> | undefined;
    for (const column of variableColumns) {
      const value = record[column];
      if (value) (variables ??= {})[column] = value;
    }
    // A cell that is not storable text was named above; its URL-encoded length has no meaning.
    if (variables && storable) {
      const bad = variablesProblems(variables);
      if (bad.length === 0) lead.variables = variables;
      else for (const { key, message } of bad) problem({ line, column: key ?? '(variables)', message });
    }
    leads.push(lead);
  }

  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    columns: (given: string[]) => (header = given.map(variableKeyOf)),
    // Each row is read where it is parsed, with its line; none goes on down the stream.
    on_record: (record: Record<string, string>, context: { lines: number }) => {
      readRow(record, context.lines);
      return null;
    },
  });
  // The pipeline's end: the parser passes nothing on, but its readable side must be drained to end.
  const drain = new Writable({ objectMode: true, write: (_record, _encoding, done) => done() });

  try {
    await pipeline(body, meter, parser, drain);
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
