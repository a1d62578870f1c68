import { restStatus, type CallRecord } from './call-record';
import { DAY_MS, parseFilterDate } from './dates';
import { callsUri, toResource } from './resource';
import { single, type Form } from './validation';

const FILTER_KEYS = ['To', 'From', 'ParentCallSid', 'Status', 'StartTime', 'StartTime<', 'StartTime>', 'EndTime', 'EndTime<', 'EndTime>'];
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

type Predicate = (call: CallRecord) => boolean;

/**
 * `X` = on that UTC day (a date-time, as the SDK sends a Date, stands for its day), `X>` = at or
 * after, `X<` = before. A call without the time (never dialled, or still live for EndTime) never matches.
 */
function timeFilter(field: 'startTime' | 'endTime', op: '' | '<' | '>', value: string): Predicate {
  const parsed = parseFilterDate(value);
  if (!parsed) return () => false;
  const { at } = parsed;
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  return (call) => {
    const t = call[field];
    if (t === null) return false;
    if (op === '>') return t >= at;
    if (op === '<') return t < at;
    return t >= day && t < day + DAY_MS;
  };
}

function buildFilter(query: Form): Predicate {
  const preds: Predicate[] = [];
  const to = single(query, 'To');
  const from = single(query, 'From');
  const status = single(query, 'Status');
  const parent = single(query, 'ParentCallSid');
  if (to) preds.push((c) => c.to === to);
  if (from) preds.push((c) => c.from === from);
  if (status) preds.push((c) => restStatus(c) === status);
  if (parent) preds.push(() => false);
  for (const [field, key] of [['startTime', 'StartTime'], ['endTime', 'EndTime']] as const) {
    for (const op of ['', '<', '>'] as const) {
      const v = single(query, key + op);
      if (v) preds.push(timeFilter(field, op, v));
    }
  }
  return (call) => !call.deleted && preds.every((p) => p(call));
}

/**
 * Newest first, like Twilio. Paging follows PageToken (`PA<sid>` = after that call, `PB<sid>` =
 * before it) so that calls created between two page requests do not shift later pages.
 */
export function listPage(accountSid: string, calls: Iterable<CallRecord>, query: Form): Record<string, unknown> {
  const filter = buildFilter(query);
  const matching: CallRecord[] = [];
  for (const call of calls) if (call.accountSid === accountSid && filter(call)) matching.push(call);
  matching.reverse();

  const sizeRaw = Number(single(query, 'PageSize') ?? DEFAULT_PAGE_SIZE);
  const pageSize = Number.isInteger(sizeRaw) && sizeRaw > 0 ? Math.min(sizeRaw, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const pageRaw = Number(single(query, 'Page') ?? 0);
  const page = Number.isInteger(pageRaw) && pageRaw >= 0 ? pageRaw : 0;
  const token = single(query, 'PageToken');

  let start = page * pageSize;
  const anchor = token ? matching.findIndex((c) => c.sid === token.slice(2)) : -1;
  if (token?.startsWith('PA') && anchor >= 0) start = anchor + 1;
  if (token?.startsWith('PB') && anchor >= 0) start = Math.max(0, anchor - pageSize);
  const items = matching.slice(start, start + pageSize);

  const filterParams = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const v = single(query, key);
    if (v) filterParams.append(key, v);
  }
  const uriFor = (p: number, pageToken?: string) => {
    const params = new URLSearchParams(filterParams);
    params.set('PageSize', String(pageSize));
    params.set('Page', String(p));
    if (pageToken) params.set('PageToken', pageToken);
    return `${callsUri(accountSid)}?${params.toString()}`;
  };
  const last = items[items.length - 1];
  const first = items[0];
  const hasNext = last !== undefined && start + items.length < matching.length;
  const hasPrevious = first !== undefined && start > 0;
  return {
    calls: items.map(toResource),
    end: items.length === 0 ? start : start + items.length - 1,
    first_page_uri: uriFor(0),
    next_page_uri: hasNext ? uriFor(page + 1, `PA${last.sid}`) : null,
    page,
    page_size: pageSize,
    previous_page_uri: hasPrevious ? uriFor(Math.max(0, page - 1), `PB${first.sid}`) : null,
    start,
    uri: uriFor(page, token),
  };
}
