import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { parse, type Options as CsvOptions } from 'csv-parse';
import { HttpError } from './errors';
import { RESERVED_VARIABLE_PREFIX, VARIABLE_KEY } from '../calls/instructions';
import { INSTANT_MESSAGE, instantField, isTimeZoneName, TIME_ZONE_MESSAGE, variablesProblems } from './campaign-fields';
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
  callAt: string;
}

export const DEFAULT_CSV_COLUMNS: CsvColumns = { phone: 'phone', name: 'name', timeZone: 'time_zone', callAt: 'call_at' };

/** The most a CSV body may be: 100,000 leads with a handful of columns fit in far less. */
export const MAX_CSV_BYTES = 50 * 1024 * 1024;

/** The longest an upload may send nothing: below the pool's idle_in_transaction_session_timeout (30 s). */
export const UPLOAD_IDLE_MS = 20_000;

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
  callAt?: Date | undefined;
  variables?: Record<string, string> | undefined;
}

/** What is wrong with the header row, if anything: no phone column, a column twice, a header no variable can be named after. */
function headerProblem(header: string[], keys: CsvColumns): string | null {
  if (!header.includes(keys.phone)) return `no "${keys.phone}" column (set phoneColumn to the column that holds the numbers)`;
  const seen = new Set<string>();
  for (const key of header) {
    if (seen.has(key)) return `two columns are both "${key}" once lowercased`;
    seen.add(key);
    if (key === keys.phone || key === keys.name || key === keys.timeZone || key === keys.callAt) continue;
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
 * Leads are handed on in chunks while the rest of the body is still parsed: a full chunk at once;
 * while the consumer waits (Postgres is idle), what there is once it holds a few rows or a second has
 * passed since the last (a slow upload's rows still reach Postgres every second or so).
 */
export const CSV_CHUNK_ROWS = 10_000;
const CSV_CHUNK_MIN_ROWS = 1_000;
const CSV_CHUNK_MAX_WAIT_MS = 1_000;

export interface CsvLeadStream {
  /** The leads a chunk at a time, as they are parsed; throws on the first bad row's report, at the end of the body. */
  chunks: AsyncIterable<CsvLead[]>;
  /** The SHA-256 of the body's bytes (what an Idempotency-Key is bound to), once `chunks` has ended. */
  sha256(): string;
}

/**
 * The leads of a CSV body, handed on in chunks as the body streams in. Every row is checked: after
 * the first bad row no more leads are handed on, the rest is parsed to name up to 100 problems with
 * their line and column, and the stream throws 400 `invalid_leads` (the consumer rolls back).
 */
export function readCsvLeads(body: Readable, columns: CsvColumns, maxLeads: number, idleMs = UPLOAD_IDLE_MS): CsvLeadStream {
  const hash = createHash('sha256');
  let digest: string | null = null;
  let bytes = 0;
  // The rows go into an open transaction as they come: an upload that stalls must end before
  // Postgres ends that transaction for idling (the pool's 30 s), with a 408 and nothing written.
  let idle: NodeJS.Timeout | undefined;
  const watchIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => meter.destroy(new HttpError(408, 'request_timeout', `the upload sent nothing for ${idleMs / 1000} s; nothing was created`)), idleMs);
  };
  const meter = new Transform({
    flush(done) {
      clearTimeout(idle);
      done();
    },
    destroy(err, done) {
      clearTimeout(idle);
      done(err);
    },
    transform(chunk: Buffer, _encoding, done) {
      watchIdle();
      bytes += chunk.length;
      if (bytes > MAX_CSV_BYTES) return done(new HttpError(413, 'entity_too_large', `the CSV is over ${MAX_CSV_BYTES / 1024 / 1024} MB`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const keys: CsvColumns = { phone: variableKeyOf(columns.phone), name: variableKeyOf(columns.name), timeZone: variableKeyOf(columns.timeZone), callAt: variableKeyOf(columns.callAt) };
  let leadCount = 0;
  /** The leads read since the last chunk was handed on. */
  let chunk: CsvLead[] = [];
  /** Whether the consumer has taken every chunk handed on (it is waiting, or soon will be). */
  let wanted = true;
  let handedOnAt = performance.now();
  const problems: RowProblem[] = [];
  let problemCount = 0;
  const problem = (p: RowProblem) => {
    problemCount++;
    if (problems.length < MAX_REPORTED) problems.push(p);
  };
  /** The header row's keys, once its line is read. */
  let header: string[] | null = null;
  /** Where the phone, name and time-zone cells are, and the variables' (all other columns), once the header is checked. */
  let at: { phone: number; name: number; timeZone: number; callAt: number; variables: number[] } | null = null;

  /** One row, checked in plain code (no schema per row: 100,000 rows must ingest in seconds). */
  function readRow(header: string[], cells: string[], line: number): void {
    if (!at) {
      const bad = headerProblem(header, keys);
      if (bad) throw new HttpError(400, 'invalid_csv', `line 1: ${bad}; nothing was created`, { line: 1 });
      const own = [keys.phone, keys.name, keys.timeZone, keys.callAt];
      at = {
        phone: header.indexOf(keys.phone),
        name: header.indexOf(keys.name),
        timeZone: header.indexOf(keys.timeZone),
        callAt: header.indexOf(keys.callAt),
        variables: header.flatMap((key, i) => (own.includes(key) ? [] : [i])),
      };
    }
    if (leadCount >= maxLeads) throw new HttpError(400, 'invalid_csv', `line ${line}: more than ${maxLeads} leads in one run`);
    leadCount++;
    let storable = true;
    for (let i = 0; i < cells.length; i++) {
      if (!isStorableText(cells[i]!)) {
        storable = false;
        problem({ line, column: header[i]!, message: 'must not contain NUL characters or unpaired UTF-16 surrogates' });
      }
    }
    const lead: CsvLead = { phone: cells[at.phone] ?? '' };
    if (!isE164Phone(lead.phone)) problem({ line, column: keys.phone, message: E164_PHONE_MESSAGE });
    const name = cells[at.name];
    if (name) {
      if (name.length <= MAX_LEAD_NAME_LENGTH) lead.name = name;
      else problem({ line, column: keys.name, message: `must be at most ${MAX_LEAD_NAME_LENGTH} characters` });
    }
    const zone = cells[at.timeZone];
    if (zone) {
      if (isTimeZoneName(zone)) lead.timeZone = zone;
      else problem({ line, column: keys.timeZone, message: TIME_ZONE_MESSAGE });
    }
    const callAt = cells[at.callAt];
    if (callAt) {
      const parsed = instantField.safeParse(callAt);
      if (parsed.success) lead.callAt = parsed.data;
      else problem({ line, column: keys.callAt, message: INSTANT_MESSAGE });
    }
    let variables: Record<string, string> | undefined;
    for (const i of at.variables) {
      const value = cells[i];
      if (value) (variables ??= {})[header[i]!] = value;
    }
    // A cell that is not storable text was named above; its URL-encoded length has no meaning.
    if (variables && storable) {
      const bad = variablesProblems(variables);
      if (bad.length === 0) lead.variables = variables;
      else for (const { key, message } of bad) problem({ line, column: key ?? '(variables)', message });
    }
    // Once a row is bad the upload is refused: the rest is only checked.
    if (problemCount === 0) chunk.push(lead);
  }

  const options: CsvOptions<CsvLead[], string[]> = {
    bom: true,
    trim: true,
    skip_empty_lines: true,
    // No `columns`: rows come as arrays, the first one the header (a row of another length is still
    // refused); an object per row would cost a property definition per cell.
    // Each row is read where it is parsed, with its line; what goes on down the stream is a chunk, when due.
    on_record: (cells: string[], context: { lines: number }) => {
      if (!header) {
        header = cells.map(variableKeyOf);
        return null;
      }
      readRow(header, cells, context.lines);
      // After a bad row nothing is handed on: what was read is refused with it.
      if (problemCount > 0 || chunk.length === 0) return null;
      const due = wanted && (chunk.length >= CSV_CHUNK_MIN_ROWS || performance.now() - handedOnAt >= CSV_CHUNK_MAX_WAIT_MS);
      if (chunk.length < CSV_CHUNK_ROWS && !due) return null;
      const ready = chunk;
      chunk = [];
      wanted = false;
      handedOnAt = performance.now();
      return ready;
    },
  };
  // (csv-parse's types let on_record hand on something other than its rows only with `columns`.)
  const parser = parse(options as unknown as CsvOptions);

  async function* chunks(): AsyncGenerator<CsvLead[]> {
    // Errors anywhere in the pipeline end the parser with them, so they surface in this loop.
    const parsed = pipeline(body, meter, parser, () => undefined) as AsyncIterable<CsvLead[]>;
    // Watched only while the body is being read: a request refused before that never arms it.
    watchIdle();
    try {
      for await (const ready of parsed) {
        // Not while the rows are being written: then the body waits on us, not the client.
        clearTimeout(idle);
        yield ready;
        watchIdle();
        wanted = parser.readableLength === 0;
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      // csv-parse's own errors (a row with the wrong number of cells, an unclosed quote) carry the line.
      const e = err as { code?: string; message?: string; lines?: number };
      if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
        throw new HttpError(400, 'invalid_csv', `line ${e.lines ?? '?'}: ${e.message ?? e.code}; nothing was created`, { line: e.lines ?? null, code: e.code });
      }
      throw err;
    } finally {
      clearTimeout(idle);
    }
    if (leadCount === 0) throw new HttpError(400, 'invalid_csv', 'the CSV holds no lead: a header row and at least one row are needed');
    if (problemCount > 0) {
      const first = problems[0]!;
      throw new HttpError(
        400,
        'invalid_leads',
        `${problemCount} problem${problemCount === 1 ? '' : 's'} in the CSV, the first on line ${first.line}, column ${first.column}: ${first.message}; nothing was created`,
        problems,
      );
    }
    digest = hash.digest('hex');
    if (chunk.length > 0) yield chunk;
  }

  return {
    chunks: chunks(),
    sha256: () => {
      if (digest === null) throw new Error('the CSV body was not read to its end');
      return digest;
    },
  };
}
