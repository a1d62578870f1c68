import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPrivateAddress, postWebhook } from '../../src/webhooks/post';

/** The webhook request itself, against a real HTTP server on loopback. */
describe('webhook POST', () => {
  let server: http.Server;
  let port: number;
  const seen: { method?: string; body: string; headers: http.IncomingHttpHeaders }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method, body, headers: req.headers });
        if (req.url === '/moved') res.writeHead(302, { location: '/hook' }).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  test('private, loopback and link-local addresses are told apart from public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect([a, isPrivateAddress(a)]).toEqual([a, true]);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect([a, isPrivateAddress(a)]).toEqual([a, false]);
  });

  test('with private networks refused, a loopback receiver is never reached, by IP or by a name that resolves to it', async () => {
    const opts = { timeoutMs: 2_000, allowPrivateNetworks: false };
    await expect(postWebhook(`http://127.0.0.1:${port}/hook`, {}, '{}', opts)).rejects.toThrow(/127\.0\.0\.1, a private or local address/);
    await expect(postWebhook(`http://localhost:${port}/hook`, {}, '{}', opts)).rejects.toThrow(/localhost is at .*, a private or local address/);
    await expect(postWebhook(`http://[::1]:${port}/hook`, {}, '{}', opts)).rejects.toThrow(/private or local address/);
    expect(seen).toEqual([]);
  });

  test('allowed, it POSTs the body with its headers and answers the status; a redirect is not followed', async () => {
    const opts = { timeoutMs: 2_000, allowPrivateNetworks: true };
    expect(await postWebhook(`http://localhost:${port}/hook`, { 'content-type': 'application/json', 'webhook-id': 'evt_1' }, '{"a":1}', opts)).toBe(204);
    expect(seen).toEqual([{ method: 'POST', body: '{"a":1}', headers: expect.objectContaining({ 'content-type': 'application/json', 'webhook-id': 'evt_1', 'content-length': '7' }) }]);
    expect(await postWebhook(`http://127.0.0.1:${port}/moved`, {}, '{}', opts)).toBe(302);
    expect(seen).toHaveLength(2);
  });
});
