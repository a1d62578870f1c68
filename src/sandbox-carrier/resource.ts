import { createHash } from 'node:crypto';
import { callDurationSec, isTerminal, restStatus, type CallRecord } from './call-record';
import { rfc2822 } from './dates';

const SUBRESOURCES: Record<string, string> = {
  notifications: 'Notifications',
  recordings: 'Recordings',
  payments: 'Payments',
  events: 'Events',
  siprec: 'Siprec',
  streams: 'Streams',
  transcriptions: 'Transcriptions',
  user_defined_message_subscriptions: 'UserDefinedMessageSubscriptions',
  user_defined_messages: 'UserDefinedMessages',
};

export const callsUri = (accountSid: string) => `/2010-04-01/Accounts/${accountSid}/Calls.json`;
export const callUri = (accountSid: string, sid: string) => `/2010-04-01/Accounts/${accountSid}/Calls/${sid}.json`;

/** Twilio formats North American numbers for display and leaves the rest in E.164. */
export function formatNumber(value: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(value);
  return nanp ? `(${nanp[1]}) ${nanp[2]}-${nanp[3]}` : value;
}

/** A stable PN SID per From, standing in for the number's IncomingPhoneNumber resource. */
function phoneNumberSid(from: string): string | null {
  if (!from.startsWith('+')) return null;
  return `PN${createHash('md5').update(from).digest('hex')}`;
}

/** US rate of an outbound minute, only so that a priced call looks like one. */
const PRICE_PER_MINUTE = 0.014;

function price(call: CallRecord): string | null {
  if (!isTerminal(call) || call.answeredAt === null) return null;
  const minutes = Math.ceil((callDurationSec(call) ?? 0) / 60);
  return (-(minutes * PRICE_PER_MINUTE)).toFixed(5);
}

/** The Call resource (OpenAPI `api.v2010.account.call`) as Twilio serialises it. */
export function toResource(call: CallRecord): Record<string, unknown> {
  const base = `/2010-04-01/Accounts/${call.accountSid}/Calls/${call.sid}`;
  const subresourceUris: Record<string, string> = {};
  for (const [key, name] of Object.entries(SUBRESOURCES)) subresourceUris[key] = `${base}/${name}.json`;
  const duration = callDurationSec(call);
  return {
    account_sid: call.accountSid,
    answered_by: call.answeredBy,
    api_version: '2010-04-01',
    caller_name: null,
    date_created: rfc2822(call.createdAt),
    date_updated: rfc2822(call.updatedAt),
    direction: 'outbound-api',
    duration: duration === null ? null : String(duration),
    end_time: call.endTime === null ? null : rfc2822(call.endTime),
    forwarded_from: null,
    from: call.from,
    from_formatted: formatNumber(call.from),
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: phoneNumberSid(call.from),
    price: price(call),
    price_unit: 'USD',
    sid: call.sid,
    start_time: call.startTime === null ? null : rfc2822(call.startTime),
    status: restStatus(call),
    subresource_uris: subresourceUris,
    to: call.to,
    to_formatted: formatNumber(call.to),
    trunk_sid: null,
    uri: `${base}.json`,
    queue_time: String(call.queueTimeMs),
  };
}
