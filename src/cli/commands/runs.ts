import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Option, type Command } from 'commander';
import type { RunView } from '../../domain/runs/run-view';
import { CliError, type ApiClient } from '../api-client';
import {
  addCallingWindowOptions,
  addPaging,
  addVoiceAppOptions,
  callingWindowOf,
  contextOf,
  defined,
  intOption,
  jsonOption,
  pagingMax,
  voiceAppOf,
  type CliContext,
} from '../context';
import { printJson, printRecord, printTable } from '../output';
import { DEFAULT_PROGRESS_INTERVAL_MS, progressOptions, uploadProgressView } from '../progress';
import { DEFAULT_GIVE_UP_AFTER_SECONDS, EXIT_CODE_OF_FINAL_STATUS, runSummary, watchRun } from '../watch';

const RUN_COLUMNS = ['id', 'status', 'jobs.total', 'jobs.completed', 'jobs.failed', 'createdAt', 'finishedAt'];

const runPath = (runId: string, tail = '') => `/v1/runs/${encodeURIComponent(runId)}${tail}`;

interface WatchFlags {
  progressInterval: number;
  giveUpAfter: number;
}

/** The watch's flags, on `watch` and on `runs create`. */
function addWatchOptions(command: Command): Command {
  return command
    .option('--progress-interval <ms>', 'least time between two plain progress lines (when not on a terminal)', intOption(0), DEFAULT_PROGRESS_INTERVAL_MS)
    .option('--give-up-after <seconds>', 'stop watching after this long without a connection to the API', intOption(1), DEFAULT_GIVE_UP_AFTER_SECONDS);
}

/** Watches the run to its end, prints how it ended, and sets the exit code from its final status. */
async function watchToEnd({ client, json }: CliContext, runId: string, flags: WatchFlags) {
  const run = await watchRun(client, runId, { progress: progressOptions(flags.progressInterval), giveUpAfterSeconds: flags.giveUpAfter });
  if (json) printJson(run);
  else process.stdout.write(`${runSummary(run)}\n`);
  process.exitCode = EXIT_CODE_OF_FINAL_STATUS[run.status] ?? 1;
}

interface CreateRunFlags extends WatchFlags, CsvFlags {
  options?: unknown;
  allowDuplicates?: boolean;
  voiceUrl?: string;
  voiceMethod?: string;
  twiml?: string;
  callerId?: string;
  maxConcurrentCalls?: number;
  machineDetection?: string;
  startAt?: string;
  stopAt?: string;
  retries?: unknown;
  callingWindow?: unknown;
  alwaysOpen?: boolean;
  keepOpen?: boolean;
  watch: boolean;
}

/** The run's settings (the upload's `options` query): --options as the base, each flag over it. */
function runSettingsOf(flags: CreateRunFlags): Record<string, unknown> {
  if (flags.options !== undefined && (typeof flags.options !== 'object' || flags.options === null || Array.isArray(flags.options))) {
    throw new CliError('--options must be a JSON object of run settings');
  }
  return {
    ...(flags.options as Record<string, unknown> | undefined),
    ...defined({
      allowDuplicates: flags.allowDuplicates,
      voiceApp: voiceAppOf(flags),
      callerId: flags.callerId,
      machineDetection: flags.machineDetection === undefined ? undefined : { mode: flags.machineDetection },
      maxConcurrentCalls: flags.maxConcurrentCalls,
      callingWindow: callingWindowOf(flags),
      startAt: flags.startAt,
      stopAt: flags.stopAt,
      retries: flags.retries,
      keepOpen: flags.keepOpen,
    }),
  };
}

/** The CSV flags of `runs create` and `runs add-leads`. */
interface CsvFlags {
  phoneColumn?: string;
  nameColumn?: string;
  timeZoneColumn?: string;
  callAtColumn?: string;
  idempotencyKey?: string;
  progressInterval: number;
}

/** Streams the CSV file to `path` (text/csv), showing the bytes sent; `settings` go in the `options` query. */
async function uploadCsv<T>(client: ApiClient, path: string, file: string, settings: Record<string, unknown>, flags: CsvFlags): Promise<T> {
  const size = await stat(file).then(
    (s) => s.size,
    (err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    },
  );
  const progress = uploadProgressView(file, size, progressOptions(flags.progressInterval));
  let sent = 0;
  async function* counted() {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      sent += chunk.length;
      progress.sent(sent);
      yield chunk;
    }
  }
  try {
    return await client.request<T>('POST', path, {
      query: {
        phoneColumn: flags.phoneColumn,
        nameColumn: flags.nameColumn,
        timeZoneColumn: flags.timeZoneColumn,
        callAtColumn: flags.callAtColumn,
        options: Object.keys(settings).length > 0 ? JSON.stringify(settings) : undefined,
      },
      body: { stream: Readable.toWeb(Readable.from(counted())) as ReadableStream<Uint8Array>, contentType: 'text/csv' },
      headers: flags.idempotencyKey ? { 'idempotency-key': flags.idempotencyKey } : {},
    });
  } finally {
    progress.stop();
  }
}

/** The columns' flags, on `runs create` and `runs add-leads`. */
function addCsvColumnOptions(command: Command): Command {
  return command
    .option('--phone-column <header>', 'the column of phone numbers (default "phone")')
    .option('--name-column <header>', 'the column of names (default "name")')
    .option('--time-zone-column <header>', 'the column of IANA time zones (default "time_zone")')
    .option('--call-at-column <header>', 'the column of instants a lead is not called before (default "call_at")');
}

export function runCommands(program: Command) {
  const runs = program.command('runs').description('bulk-call runs: create one from a CSV, list them, show one');

  const create = addCsvColumnOptions(
    runs
      .command('create <businessId> <file.csv>')
      .description("upload a CSV of leads as a new run and watch it (a header row; a phone column; name and time_zone optional; other columns become each lead's variables)"),
  )
    .option('--options <json>', 'run settings as a JSON object (the flags below override its fields)', jsonOption)
    .option('--allow-duplicates', 'dial a number as often as it appears (default: merge duplicates)')
    .option('--caller-id <e164>', "the caller ID (one of the business's)")
    .option('--max-concurrent-calls <n>', "this run's cap, at most the business's limit", intOption(1, 1000))
    .addOption(new Option('--machine-detection <mode>', 'answering-machine detection').choices(['Enable', 'DetectMessageEnd']))
    .option('--start-at <iso>', 'do not dial before this instant (ISO 8601 with offset)')
    .option('--stop-at <iso>', 'dial nothing after this instant; leads left are expired')
    .option('--retries <json>', 'retry policy as JSON, e.g. {"no-answer":{"maxAttempts":3,"delaySeconds":600}}', jsonOption)
    .option('--keep-open', 'once its leads are done, wait for more (runs add-leads) until closed (outdial close) or its stop time')
    .option('--idempotency-key <key>', 'repeat the upload safely: the same key and bytes return the same run')
    .option('--no-watch', 'return once the run is created');
  addWatchOptions(addCallingWindowOptions(addVoiceAppOptions(create))).action(async (businessId: string, file: string, flags: CreateRunFlags, command: Command) => {
    const ctx = contextOf(command);
    const { run, duplicatesMerged } = await uploadCsv<{ run: RunView; duplicatesMerged: number }>(ctx.client, `/v1/businesses/${encodeURIComponent(businessId)}/runs`, file, runSettingsOf(flags), flags);
    if (ctx.json && !flags.watch) return printJson({ run, duplicatesMerged });
    // With --json, stdout holds only the final run's JSON.
    (ctx.json ? process.stderr : process.stdout).write(`created run ${run.id} (${run.jobs.total} leads${duplicatesMerged ? `, ${duplicatesMerged} duplicates merged` : ''})\n`);
    if (flags.watch) await watchToEnd(ctx, run.id, flags);
  });

  addCsvColumnOptions(
    runs
      .command('add-leads <runId> <file.csv>')
      .description('add a CSV of leads to a run that has not begun to end: dialed after those it holds, under its settings (the same columns as create)'),
  )
    .option('--allow-duplicates', 'keep rows whose number the run already holds or that repeat (default: merge them)')
    .option('--idempotency-key <key>', 'repeat the upload safely: the same key and bytes add the leads once')
    .option('--progress-interval <ms>', 'least time between two plain progress lines (when not on a terminal)', intOption(0), DEFAULT_PROGRESS_INTERVAL_MS)
    .action(async (runId: string, file: string, flags: CsvFlags & { allowDuplicates?: boolean }, command: Command) => {
    const { client, json } = contextOf(command);
    const answer = await uploadCsv<{ run: RunView; added: number; duplicatesMerged: number }>(client, runPath(runId, '/leads'), file, defined({ allowDuplicates: flags.allowDuplicates }), flags);
    if (json) return printJson(answer);
    process.stdout.write(`added ${answer.added} leads to run ${answer.run.id} (${answer.run.jobs.total} in all${answer.duplicatesMerged ? `, ${answer.duplicatesMerged} duplicates merged` : ''})\n`);
  });

  addPaging(runs.command('list <businessId>').description("the business's runs, newest first").option('--status <list>', 'only runs in these statuses, comma-separated (e.g. running,paused)')).action(
    async (businessId: string, opts: { status?: string; limit: number; all?: boolean }, command: Command) => {
      const { client, json } = contextOf(command);
      const items = await client.list<Record<string, unknown>>(`/v1/businesses/${encodeURIComponent(businessId)}/runs`, { status: opts.status }, pagingMax(opts));
      printTable(items, RUN_COLUMNS, json);
    },
  );

  runs
    .command('show <runId>')
    .description('where a run stands: status, leads by status, outcomes, settings')
    .action(async (runId: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const { run } = await client.request<{ run: RunView }>('GET', runPath(runId));
      printRecord({ ...run }, json);
    });

  addWatchOptions(
    program.command('watch <runId>').description('follow a run live until it ends; exit 0 if it completed, 1 if it failed, 2 if canceled'),
  ).action(async (runId: string, flags: WatchFlags, command: Command) => {
    await watchToEnd(contextOf(command), runId, flags);
  });

  for (const [action, what] of [
    ['pause', 'pause a run: no new calls, live ones end on their own'],
    ['resume', 'resume a paused run'],
    ['cancel', "cancel a run: no new calls; leads not yet called are canceled"],
    ['close', 'close a run kept open: it completes once its leads are done'],
  ] as const) {
    program
      .command(`${action} <runId>`)
      .description(what)
      .action(async (runId: string, _opts: unknown, command: Command) => {
        const { client, json } = contextOf(command);
        const { run } = await client.request<{ run: RunView }>('POST', runPath(runId, `/${action}`));
        if (json) printJson(run);
        else process.stdout.write(action === 'close' ? `run ${run.id} closed (${run.status})\n` : `run ${run.id} ${run.status}\n`);
      });
  }

  program
    .command('results <runId>')
    .description("every lead's outcome as CSV (one row per lead, its variables as columns)")
    .option('-o, --output <file>', 'write to this file (default: stdout); written whole or not at all')
    .action(async (runId: string, opts: { output?: string }, command: Command) => {
      const { client } = contextOf(command);
      const res = await client.send('GET', runPath(runId, '/results.csv'));
      const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      if (!opts.output) return pipeline(body, process.stdout, { end: false });
      // A partial file under its own name until the last byte is in, so a broken download leaves no half-file.
      const partial = `${opts.output}.part`;
      try {
        await pipeline(body, createWriteStream(partial));
        await rename(partial, opts.output);
      } catch (err) {
        await rm(partial, { force: true });
        throw new CliError(`could not write ${opts.output}: ${(err as Error).message}`);
      }
      process.stderr.write(`wrote the results of run ${runId} to ${opts.output}\n`);
    });
}
