import twilio from 'twilio';

/**
 * Builds a status-callback request exactly as Twilio signs it (reference §3.5): the signature covers
 * the StatusCallback URL as the client wrote it, minus `#fragment` and `user:pass@`, with the port
 * kept for http and dropped for https; POST appends the sorted form parameters, GET signs the full
 * URL with the parameters in its query.
 */

export interface CallbackRequest {
  protocol: 'http:' | 'https:';
  /** Where to connect: the real port even when https signing drops it. */
  hostname: string;
  port: number;
  /** Path and query as sent on the request line. */
  path: string;
  method: 'GET' | 'POST';
  /** The URL the receiver reconstructs and validates against (for GET, including the parameters). */
  url: string;
  body: string | null;
  /** Parameters as sent (after any tampering). */
  params: Record<string, string>;
  signature: string;
  basicAuth: string | null;
}

export interface SigningFaults {
  badSignature?: boolean;
  tamper?: boolean;
}

/** The fragment carries Twilio's connection overrides (`#rc=2&ct=1000`) and is never sent or signed. */
export function splitFragment(url: string): { url: string; fragment: string } {
  const i = url.indexOf('#');
  return i < 0 ? { url, fragment: '' } : { url: url.slice(0, i), fragment: url.slice(i + 1) };
}

export function buildCallbackRequest(
  statusCallback: string,
  method: 'GET' | 'POST',
  params: Record<string, string>,
  authToken: string,
  faults: SigningFaults = {},
): CallbackRequest {
  const raw = splitFragment(statusCallback).url;
  const parsed = new URL(raw);
  const basicAuth = parsed.username ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}` : null;
  const protocol = parsed.protocol === 'https:' ? 'https:' : 'http:';
  const port = parsed.port ? Number(parsed.port) : protocol === 'https:' ? 443 : 80;

  // Keep the client's own spelling of path and query; fall back to the parsed form only if the raw
  // text cannot go on a request line.
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?]*)(.*)$/i.exec(raw);
  let rawPath = m?.[2] ?? '';
  if (!rawPath.startsWith('/')) rawPath = `/${rawPath}`;
  if (/[^\x21-\x7e]/.test(rawPath)) rawPath = parsed.pathname + parsed.search;
  let authority = (m?.[1] ?? parsed.host).replace(/^.*@/, '');
  if (protocol === 'https:') authority = authority.replace(/:\d+$/, '');
  const signedBase = `${protocol}//${authority}${rawPath}`;

  const token = faults.badSignature ? `${authToken}-not-the-account-token` : authToken;
  let url: string;
  let path: string;
  let body: string | null;
  let signature: string;
  let sent = params;
  if (method === 'GET') {
    const query = new URLSearchParams(params).toString();
    const sep = rawPath.includes('?') ? (/[?&]$/.test(rawPath) ? '' : '&') : '?';
    url = signedBase + sep + query;
    signature = twilio.getExpectedTwilioSignature(token, url, {});
    if (faults.tamper) {
      sent = tampered(params);
      url = signedBase + sep + new URLSearchParams(sent).toString();
    }
    path = url.slice(signedBase.length - rawPath.length);
    body = null;
  } else {
    url = signedBase;
    path = rawPath;
    signature = twilio.getExpectedTwilioSignature(token, url, params);
    if (faults.tamper) sent = tampered(params);
    body = new URLSearchParams(sent).toString();
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { protocol, hostname, port, path, method, url, body, params: sent, signature, basicAuth };
}

/** What a tampering proxy would do: flip the status the receiver is about to act on. */
function tampered(params: Record<string, string>): Record<string, string> {
  return { ...params, CallStatus: params.CallStatus === 'completed' ? 'busy' : 'completed' };
}

/** The headers Twilio puts on the webhooks it sends: status callbacks, voice requests, AMD callbacks. */
export function webhookHeaders(request: CallbackRequest, idempotencyToken: string): Record<string, string> {
  const headers: Record<string, string> = {
    'User-Agent': 'TwilioProxy/1.1',
    'X-Twilio-Signature': request.signature,
    'I-Twilio-Idempotency-Token': idempotencyToken,
    'X-Home-Region': 'us1',
    Accept: '*/*',
    'Cache-Control': 'max-age=259200',
  };
  if (request.method === 'POST') headers['Content-Type'] = 'application/x-www-form-urlencoded';
  return headers;
}
