import { parseArgs } from 'node:util';

/**
 * `npm run demo`: creates a business and a 20-lead run against a running Outdial (npm start), then
 * follows the run until it ends, printing its progress. Sandbox numbers: every lead answers.
 */

async function call<T>(api: string, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(api + path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.error?.message ?? ''}`);
  return json;
}

interface RunView {
  id: string;
  status: string;
  workflowId: string;
  lastError: string | null;
  jobs: Record<string, number>;
  outcomes: Record<string, number>;
  business: { activeCalls: number; maxConcurrentCalls: number };
}

async function main() {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: 'http://127.0.0.1:3000' },
      ui: { type: 'string' },
      leads: { type: 'string', default: '20' },
      key: { type: 'string', default: process.env.OUTDIAL_ADMIN_KEY },
    },
  });
  const adminKey = values.key;
  if (!adminKey) throw new Error('an admin key is needed: export OUTDIAL_ADMIN_KEY=<the key npm start printed>, or pass --key');
  const api = values.api!.replace(/\/$/, '');
  const leadCount = Number(values.leads);
  if (!Number.isInteger(leadCount) || leadCount < 1 || leadCount > 10_000) throw new Error('--leads must be a whole number from 1 to 10000');
  const { business } = await call<{ business: { id: string } }>(api, adminKey, 'POST', '/v1/businesses', {
    name: 'Demo Dental',
    callerId: '+15005550006',
    maxConcurrentCalls: 3,
    // The sandbox calls nobody: the demo runs at any hour (real campaigns keep the 08:00–21:00 default).
    callingWindow: { alwaysOpen: true },
  });
  // The business's own key from here on: what a business's CRM would hold.
  const { apiKey } = await call<{ apiKey: { secret: string } }>(api, adminKey, 'POST', `/v1/businesses/${business.id}/api-keys`, { name: 'demo' });
  const key = apiKey.secret;
  const leads = Array.from({ length: leadCount }, (_, i) => ({ phone: `+1415555${String(1000 + i).slice(-4)}`, name: `Lead ${i + 1}` }));
  const { run } = await call<{ run: RunView }>(api, key, 'POST', `/v1/businesses/${business.id}/runs`, { leads });
  console.log(`Run ${run.id} started for business ${business.id} (${leadCount} leads, at most 3 calls at once).`);
  if (values.ui) console.log(`Watch it: ${values.ui}/namespaces/default/workflows/${run.workflowId}`);
  // The key rides in the fragment, which the browser never sends to the server.
  console.log(`Live page: ${api}/runs/${run.id}#key=${encodeURIComponent(key)}`);
  console.log(`Or: curl -H "Authorization: Bearer $OUTDIAL_ADMIN_KEY" ${api}/v1/runs/${run.id}`);
  let last = '';
  for (;;) {
    const { run: now } = await call<{ run: RunView }>(api, key, 'GET', `/v1/runs/${run.id}`);
    const line = `${now.status}: ${now.jobs.completed} completed, ${now.jobs.failed} failed, ${now.jobs.dialing} dialing, ${now.jobs.queued} queued; active calls ${now.business.activeCalls}/${now.business.maxConcurrentCalls}`;
    if (line !== last) console.log(line);
    last = line;
    if (['completed', 'failed', 'canceled'].includes(now.status)) {
      const outcomes = Object.entries(now.outcomes).filter(([, n]) => n > 0).map(([o, n]) => `${n} ${o}`);
      if (outcomes.length) console.log(`call outcomes: ${outcomes.join(', ')}`);
      if (now.lastError) console.log(`last error: ${now.lastError}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
