import type { Command } from 'commander';
import type { DoNotCallEntry } from '../../domain/do-not-call';
import { addPaging, contextOf, defined, pagingMax } from '../context';
import { printRecord, printTable } from '../output';

/** The API's page size for do-not-call lists (its most). */
const DNC_PAGE = 1000;

/** A business's list with --business, else the operator-wide list (admin key). */
function listPath(opts: { business?: string }, phone?: string): string {
  const base = opts.business ? `/v1/businesses/${encodeURIComponent(opts.business)}/do-not-call` : '/v1/do-not-call';
  return phone === undefined ? base : `${base}/${encodeURIComponent(phone)}`;
}

const businessOption = ['--business <businessId>', "the business's own list (default: the operator-wide list, admin key)"] as const;

export function doNotCallCommands(program: Command) {
  const dnc = program.command('dnc').description('do-not-call lists: add numbers, list, check or remove one');

  dnc
    .command('add <numbers...>')
    .description('add numbers (E.164) to a do-not-call list')
    .option(...businessOption)
    .option('--reason <text>', 'why they are listed')
    .action(async (numbers: string[], opts: { business?: string; reason?: string }, command: Command) => {
      const { client, json } = contextOf(command);
      printRecord(await client.request<Record<string, unknown>>('POST', listPath(opts), { json: defined({ numbers, reason: opts.reason }) }), json);
    });

  addPaging(dnc.command('list').description('the numbers on a do-not-call list, in number order').option(...businessOption)).action(
    async (opts: { business?: string; limit: number; all?: boolean }, command: Command) => {
      const { client, json } = contextOf(command);
      const max = pagingMax(opts);
      const entries: DoNotCallEntry[] = [];
      let after: string | undefined;
      do {
        const page = await client.request<{ numbers: DoNotCallEntry[]; next: string | null }>('GET', listPath(opts), {
          query: { limit: Math.min(DNC_PAGE, max === undefined ? DNC_PAGE : max - entries.length), after },
        });
        entries.push(...page.numbers);
        after = page.next ?? undefined;
      } while (after && (max === undefined || entries.length < max));
      printTable(entries.map((e) => ({ ...e })), ['phone', 'list', 'reason', 'createdAt'], json);
    },
  );

  dnc
    .command('check <number>')
    .description('whether a number is listed (on this list or the operator-wide one)')
    .option(...businessOption)
    .action(async (phone: string, opts: { business?: string }, command: Command) => {
      const { client, json } = contextOf(command);
      printRecord(await client.request<Record<string, unknown>>('GET', listPath(opts, phone)), json);
    });

  dnc
    .command('remove <number>')
    .description('take a number off a do-not-call list')
    .option(...businessOption)
    .action(async (phone: string, opts: { business?: string }, command: Command) => {
      const { client, json } = contextOf(command);
      printRecord(await client.request<Record<string, unknown>>('DELETE', listPath(opts, phone)), json);
    });
}
