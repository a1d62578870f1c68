import type { Command } from 'commander';
import type { ApiKeyView } from '../../domain/api-keys';
import type { BusinessView } from '../../domain/businesses';
import {
  addCallingWindowOptions,
  addPaging,
  addVoiceAppOptions,
  callingWindowOf,
  contextOf,
  defined,
  intOption,
  listOption,
  pagingMax,
  voiceAppOf,
} from '../context';
import { printRecord, printTable } from '../output';

const BUSINESS_COLUMNS = ['id', 'name', 'callerId', 'maxConcurrentCalls', 'activeCalls', 'createdAt'];
const KEY_COLUMNS = ['id', 'name', 'prefix', 'createdAt', 'lastUsedAt', 'revokedAt'];

interface CreateBusinessOptions {
  name: string;
  callerId: string;
  callerIds?: string[];
  maxConcurrentCalls?: number;
  reservedDirectSlots?: number;
  timeZone?: string;
  voiceUrl?: string;
  voiceMethod?: string;
  twiml?: string;
  callingWindow?: unknown;
  alwaysOpen?: boolean;
}

export function businessCommands(program: Command) {
  const businesses = program.command('businesses').description('businesses (tenants): create one, list them, show one');

  const create = businesses
    .command('create')
    .description('create a business (admin key)')
    .requiredOption('--name <name>', "the business's name")
    .requiredOption('--caller-id <e164>', 'its default caller ID, e.g. +14155550100')
    .option('--caller-ids <list>', 'every caller ID it owns, comma-separated', listOption)
    .option('--max-concurrent-calls <n>', 'its limit of live calls (default 3)', intOption(1, 1000))
    .option('--reserved-direct-slots <n>', 'slots of the limit kept for direct calls (default 0)', intOption(0, 999))
    .option('--time-zone <zone>', 'IANA zone of leads whose number says none');
  addCallingWindowOptions(addVoiceAppOptions(create)).action(async (opts: CreateBusinessOptions, command: Command) => {
    const { client, json } = contextOf(command);
    const body = defined({
      name: opts.name,
      callerId: opts.callerId,
      callerIds: opts.callerIds,
      maxConcurrentCalls: opts.maxConcurrentCalls,
      reservedDirectSlots: opts.reservedDirectSlots,
      timeZone: opts.timeZone,
      voiceApp: voiceAppOf(opts),
      callingWindow: callingWindowOf(opts),
    });
    const { business } = await client.request<{ business: BusinessView }>('POST', '/v1/businesses', { json: body });
    printRecord({ ...business }, json);
  });

  addPaging(businesses.command('list').description('every business, newest first (admin key)')).action(async (opts: { limit: number; all?: boolean }, command: Command) => {
    const { client, json } = contextOf(command);
    printTable(await client.list<Record<string, unknown>>('/v1/businesses', {}, pagingMax(opts)), BUSINESS_COLUMNS, json);
  });

  businesses
    .command('show <businessId>')
    .description('one business: its settings and live calls')
    .action(async (businessId: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const { business } = await client.request<{ business: BusinessView }>('GET', `/v1/businesses/${encodeURIComponent(businessId)}`);
      printRecord({ ...business }, json);
    });

  const keys = program.command('keys').description("a business's API keys: mint one, list them, revoke one");

  keys
    .command('create <businessId>')
    .description('mint an API key for the business (admin key); its secret is shown this once')
    .option('--name <name>', 'a name to tell the key apart')
    .action(async (businessId: string, opts: { name?: string }, command: Command) => {
      const { client, json } = contextOf(command);
      const { apiKey } = await client.request<{ apiKey: ApiKeyView & { secret: string } }>('POST', `/v1/businesses/${encodeURIComponent(businessId)}/api-keys`, {
        json: defined({ name: opts.name }),
      });
      printRecord({ ...apiKey }, json);
      if (!json) process.stderr.write('The secret is shown only now: keep it (export OUTDIAL_API_KEY=<secret> to act as this business).\n');
    });

  keys
    .command('list <businessId>')
    .description("the business's keys (prefixes, never secrets)")
    .action(async (businessId: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const { apiKeys } = await client.request<{ apiKeys: ApiKeyView[] }>('GET', `/v1/businesses/${encodeURIComponent(businessId)}/api-keys`);
      printTable(apiKeys.map((k) => ({ ...k })), KEY_COLUMNS, json);
    });

  keys
    .command('revoke <businessId> <keyId>')
    .description('revoke a key: it stops working at once')
    .action(async (businessId: string, keyId: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const { apiKey } = await client.request<{ apiKey: ApiKeyView }>('DELETE', `/v1/businesses/${encodeURIComponent(businessId)}/api-keys/${encodeURIComponent(keyId)}`);
      printRecord({ ...apiKey }, json);
    });
}
