import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * One webhook request: a POST that follows no redirect, bounded by a timeout, and (unless private
 * networks are allowed) refused when the receiver's address is loopback, private, link-local or
 * otherwise not on the internet: a business's URL must not reach Outdial's own network. The check is
 * made on the address actually connected to (after DNS), so a name that resolves inward is caught too.
 */

const BLOCKED = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  BLOCKED.addSubnet(address, prefix, 'ipv4');
}
for (const [address, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(address, prefix, 'ipv6');
}

/** Whether an IP address is outside the public internet (an IPv4-mapped IPv6 address is judged as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
  const family = net.isIP(address);
  if (family === 0) return true;
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class PrivateAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} is at ${address}, a private or local address (WEBHOOK_ALLOW_PRIVATE_NETWORKS is false)`);
  }
}

/** dns.lookup that refuses a private answer (either callback shape: one address or all). */
function publicOnlyLookup(host: string): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, options, (err, address: string | dns.LookupAddress[], family?: number) => {
      if (err) return callback(err, '', 0);
      const addresses = typeof address === 'string' ? [{ address, family: family ?? 4 }] : address;
      const blocked = addresses.find((a) => isPrivateAddress(a.address));
      if (blocked) return callback(new PrivateAddressError(host, blocked.address), '', 0);
      if (typeof address === 'string') callback(null, address, family ?? 4);
      else (callback as unknown as (e: null, all: dns.LookupAddress[]) => void)(null, addresses);
    });
  };
}

export interface PostOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
}

/** POSTs `body`; resolves with the answer's status code (its body is drained unread), rejects on a network error or timeout. */
export function postWebhook(url: string, headers: Record<string, string>, body: string, opts: PostOptions): Promise<number> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!opts.allowPrivateNetworks && net.isIP(host) !== 0 && isPrivateAddress(host)) return Promise.reject(new PrivateAddressError(host, host));
  const request = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(opts.timeoutMs),
        ...(opts.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup(host) }),
      },
      (res) => {
        res.on('error', () => undefined);
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
