import { leadPhones, OutdialTestStack, pollUntil } from '../helpers/outdial';
import { VoiceApp } from '../helpers/voice-app';

/**
 * Campaigns end to end on the real Temporal, Postgres and the sandbox carrier: the run's own voice
 * app and per-lead variables, answering-machine detection, do-not-call at dial time, reserved direct
 * slots, per-run caps and fairness. Concurrency is measured at the carrier, per From number.
 */

const peak = (stack: OutdialTestStack, from: string) => stack.carrier.stats().perFrom[from]?.peak ?? 0;

function dialsPerNumber(stack: OutdialTestStack, from: string): Map<string, number> {
  const perNumber = new Map<string, number>();
  for (const c of stack.carrier.calls({ from })) perNumber.set(c.to, (perNumber.get(c.to) ?? 0) + 1);
  return perNumber;
}

/** The most calls of these caller IDs live at the carrier at once, from each call's creation to its end. */
function peakTogether(stack: OutdialTestStack, froms: string[]): number {
  const edges = froms
    .flatMap((from) => stack.carrier.calls({ from }))
    .flatMap((c) => [
      { at: c.createdAt, d: 1 },
      { at: c.endTime ?? Number.POSITIVE_INFINITY, d: -1 },
    ])
    // An end and a start at the same instant: the end first (the slot was free).
    .sort((x, y) => x.at - y.at || x.d - y.d);
  let live = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (live += e.d));
  return most;
}

/** A caller ID of its own per business or run, so the carrier's per-number peak is exactly theirs. */
let nextCallerId = 0;
const callerId = () => `+1650556${String(1000 + nextCallerId++).slice(-4)}`;

describe('campaigns', () => {
  let stack: OutdialTestStack;
  let voice: VoiceApp;

  beforeAll(async () => {
    // Every refill below is signal-driven: the fallback timer is far beyond any test.
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 40 } } });
    await stack.startWorker();
    voice = await VoiceApp.start(stack.carrier.authToken);
  });

  afterEach(() => {
    stack.carrier.setScripts([]);
  });

  afterAll(async () => {
    await stack.stop();
    await voice.stop();
  });

  async function business(fields: Record<string, unknown> = {}) {
    const res = await stack.api<{ business: { id: string; callerId: string; callerIds: string[] } }>('POST', '/v1/businesses', {
      name: 'Campaign business',
      callerId: callerId(),
      callingWindow: { alwaysOpen: true },
      ...fields,
    });
    expect(res.status).toBe(201);
    return res.body.business;
  }

  async function run(businessId: string, body: Record<string, unknown>) {
    const res = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${businessId}/runs`, body);
    expect(res.status).toBe(201);
    return res.body.run;
  }

  test("the run's voice URL is fetched for each answered call, signed, with the lead's variables; <Hangup/> ends the call", async () => {
    const biz = await business();
    const phones = leadPhones(4, '+1415581');
    // A minute of talk unless the TwiML ends the call: far from anything scheduling could add.
    stack.carrier.setScripts(phones.map((to) => ({ to, talkMs: 60_000 })));
    const r = await run(biz.id, {
      voiceApp: { url: `${voice.url}/voice?campaign=spring%20recall` },
      leads: phones.map((phone, i) => ({ phone, name: `Lead ${i}`, variables: { appointment: `2026-12-0${i + 2} 09:30`, note: 'café & co' } })),
    });
    const done = await stack.runResult(r);
    expect(done.status).toBe('completed');
    expect(done.jobs.completed).toBe(4);

    const mine = voice.fetches.filter((f) => f.query.outdial_run_id === r.id);
    expect(mine).toHaveLength(4);
    for (const fetch of mine) {
      expect(fetch.valid).toBe(true);
      expect(fetch.method).toBe('POST');
      const i = phones.indexOf(fetch.params.To!);
      expect(i).toBeGreaterThanOrEqual(0);
      // The voice URL's own query stays, the lead's variables follow it, URL-encoded.
      expect(fetch.query).toMatchObject({ campaign: 'spring recall', name: `Lead ${i}`, appointment: `2026-12-0${i + 2} 09:30`, note: 'café & co' });
      expect(fetch.query.outdial_lead_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(fetch.params).toMatchObject({ CallStatus: 'in-progress', Direction: 'outbound-api', From: biz.callerId });
    }
    // <Hangup/> ended each call as soon as its TwiML came: no talk time.
    for (const call of stack.carrier.calls({ from: biz.callerId })) {
      expect(call.status).toBe('completed');
      expect(call.voiceFetches).toBe(1);
      expect(call.endTime! - call.answeredAt!).toBeLessThan(30_000);
    }
  });

  test('inline TwiML gets the variables substituted (XML-escaped); GET voice URLs get them in the query', async () => {
    const biz = await business();
    const [a, b] = leadPhones(2, '+1415582');
    const r1 = await run(biz.id, {
      voiceApp: { twiml: '<Response><Say>Hello {{name}}, about {{topic}}</Say></Response>' },
      leads: [{ phone: a, name: 'Ada <3', variables: { topic: 'R&D' } }],
    });
    expect((await stack.runResult(r1)).status).toBe('completed');
    const sent = stack.carrier.requests().find((q) => q.method === 'POST' && q.form.To === a);
    expect(sent?.form.Twiml).toBe('<Response><Say>Hello Ada &lt;3, about R&amp;D</Say></Response>');

    const r2 = await run(biz.id, { voiceApp: { url: `${voice.url}/voice`, method: 'GET' }, leads: [{ phone: b, variables: { topic: 'teeth' } }] });
    expect((await stack.runResult(r2)).status).toBe('completed');
    const fetch = voice.fetches.find((f) => f.query.outdial_run_id === r2.id);
    expect(fetch).toMatchObject({ method: 'GET', valid: true });
    expect(fetch?.query).toMatchObject({ topic: 'teeth', To: b, CallStatus: 'in-progress' });
  });

  test('sync AMD scripted per number: outcomes count humans and machines; with "hangup" the machine calls end at once', async () => {
    const biz = await business();
    const humans = leadPhones(3, '+1415583');
    const machines = leadPhones(2, '+1415584');
    // Every call would stay answered until released: only Outdial's hang-up can end the machines.
    stack.carrier.setScripts([
      { to: '+1415583*', outcome: 'hold', answeredBy: 'human' },
      { to: '+1415584*', outcome: 'hold', answeredBy: 'machine_start' },
    ]);
    const r = await run(biz.id, {
      voiceApp: { url: `${voice.url}/voice` },
      machineDetection: { mode: 'Enable', timeoutSeconds: 10, onMachine: 'hangup' },
      leads: [...machines, ...humans].map((phone) => ({ phone })),
    });
    voice.twiml = '<Response><Say>Hi</Say><Pause length="60"/></Response>';
    try {
      // The three humans are answered and held; both machines are ended by Outdial.
      await stack.carrier.waitFor(() => {
        const calls = stack.carrier.calls({ from: biz.callerId });
        return calls.filter((c) => humans.includes(c.to) && c.lifecycle === 'in-progress').length === 3 && calls.filter((c) => machines.includes(c.to) && c.lifecycle === 'completed').length === 2;
      });
      // With sync AMD each answered call's voice URL is fetched once detection is done, with the verdict.
      const all = [...humans, ...machines];
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: biz.callerId }).every((c) => c.voiceFetches === 1) && voice.fetches.filter((f) => all.includes(f.params.To!)).length === 5);
      const machineCalls = stack.carrier.calls({ from: biz.callerId }).filter((c) => machines.includes(c.to));
      for (const call of machineCalls) {
        expect(call.answeredBy).toBe('machine_start');
        // Ended by a REST hang-up (Status=completed), not by its script.
        expect(stack.carrier.requests().some((q) => q.method === 'POST' && q.path.endsWith(`/Calls/${call.sid}.json`) && q.form.Status === 'completed')).toBe(true);
      }
      // No human was hung up on.
      const humanSids = stack.carrier.calls({ from: biz.callerId }).filter((c) => humans.includes(c.to)).map((c) => c.sid);
      expect(stack.carrier.requests().filter((q) => humanSids.some((sid) => q.path.endsWith(`/Calls/${sid}.json`)))).toHaveLength(0);
      // The voice app saw the verdict with sync AMD.
      const verdicts = voice.fetches.filter((f) => all.includes(f.params.To!)).map((f) => [f.params.To, f.params.AnsweredBy]);
      expect(verdicts).toEqual(expect.arrayContaining([...humans.map((h) => [h, 'human']), ...machines.map((m) => [m, 'machine_start'])]));
      stack.carrier.releaseAll();
      const done = await stack.runResult(r);
      expect(done.status).toBe('completed');
      expect(done.answeredBy).toEqual({ human: 3, machine: 2, fax: 0, unknown: 0 });
      // Every call's request asked for detection as the run said.
      const creates = stack.carrier.requests().filter((q) => q.method === 'POST' && q.form.From === biz.callerId && q.form.To);
      expect(creates.every((q) => q.form.MachineDetection === 'Enable' && q.form.MachineDetectionTimeout === '10' && q.form.AsyncAmd === undefined)).toBe(true);
    } finally {
      voice.twiml = '<Response><Hangup/></Response>';
    }
  });

  test("async AMD: the carrier's signed AMD callback is verified and counted; machines hung up, a fax too", async () => {
    const biz = await business();
    const [human, machine, fax] = leadPhones(3, '+1415585');
    stack.carrier.setScripts([
      { to: human!, outcome: 'hold', answeredBy: 'human' },
      { to: machine!, outcome: 'hold', answeredBy: 'machine_end_beep' },
      { to: fax!, outcome: 'hold', answeredBy: 'fax' },
    ]);
    const r = await run(biz.id, {
      voiceApp: { twiml: '<Response><Pause length="60"/></Response>' },
      machineDetection: { mode: 'DetectMessageEnd', async: true, onMachine: 'hangup' },
      leads: [{ phone: human }, { phone: machine }, { phone: fax }],
    });
    await stack.carrier.waitFor(() => {
      const calls = stack.carrier.calls({ from: biz.callerId });
      return calls.filter((c) => c.lifecycle === 'completed').length === 2 && calls.some((c) => c.to === human && c.answeredBy === 'human');
    });
    const sids = new Set(stack.carrier.calls({ from: biz.callerId }).map((c) => c.sid));
    const amdCallbacks = () => stack.carrier.callbacks().filter((c) => sids.has(c.callSid) && c.event === 'amd');
    // A machine's callback is answered after Outdial hung the call up: wait for all three answers.
    await stack.carrier.waitFor(() => amdCallbacks().length === 3);
    expect(amdCallbacks().every((c) => c.responseStatus === 204 && c.url.includes('/v1/twilio/amd?callId='))).toBe(true);
    stack.carrier.releaseAll();
    const done = await stack.runResult(r);
    expect(done.answeredBy).toEqual({ human: 1, machine: 1, fax: 1, unknown: 0 });
    const rows = await stack.database.pool.query('SELECT to_number, answered_by, on_machine FROM calls WHERE run_id = $1 ORDER BY to_number', [r.id]);
    expect(rows.rows).toEqual([
      { to_number: human, answered_by: 'human', on_machine: 'hangup' },
      { to_number: machine, answered_by: 'machine_end_beep', on_machine: 'hangup' },
      { to_number: fax, answered_by: 'fax', on_machine: 'hangup' },
    ]);
  });

  test('do-not-call race: a queued lead listed while the run is at its limit is never dialed and ends skipped_dnc; a direct call to it gets 422', async () => {
    const biz = await business({ maxConcurrentCalls: 2 });
    const phones = leadPhones(6, '+1415586');
    const listed = phones[4]!;
    stack.carrier.setScripts([{ to: phones[0]!, outcome: 'hold' }, { to: phones[1]!, outcome: 'hold' }]);
    const r = await run(biz.id, { leads: phones.map((phone) => ({ phone })) });
    await stack.carrier.waitForCalls(2, { from: biz.callerId, live: true });
    // At its limit, every other lead still queued: list one of them.
    const added = await stack.api('POST', `/v1/businesses/${biz.id}/do-not-call`, { numbers: [listed], reason: 'asked not to be called' });
    expect(added).toMatchObject({ status: 200, body: { added: 1, alreadyListed: 0 } });
    stack.carrier.releaseAll();
    const done = await stack.runResult(r);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 6, completed: 5, skipped_dnc: 1, queued: 0, dialing: 0 });
    const dials = dialsPerNumber(stack, biz.callerId);
    expect(dials.get(listed)).toBeUndefined();
    expect([...dials.values()]).toEqual([1, 1, 1, 1, 1]);
    const job = await stack.database.pool.query(
      'SELECT j.status FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 AND l.phone = $2',
      [r.id, listed],
    );
    expect(job.rows).toEqual([{ status: 'skipped_dnc' }]);
    expect(peak(stack, biz.callerId)).toBe(2);

    const direct = await stack.api('POST', `/v1/businesses/${biz.id}/calls`, { to: listed });
    expect(direct).toMatchObject({ status: 422, body: { error: { code: 'do_not_call' } } });
    expect(dialsPerNumber(stack, biz.callerId).get(listed)).toBeUndefined();
  });

  test('a row of listed numbers longer than one claim round steps over (40 at the head of the queue) is skipped whole; the rest is dialed once each', async () => {
    const biz = await business({ maxConcurrentCalls: 3 });
    const phones = leadPhones(45, '+1415589');
    const listed = phones.slice(0, 40);
    expect((await stack.api('POST', `/v1/businesses/${biz.id}/do-not-call`, { numbers: listed })).body).toMatchObject({ added: 40 });
    const done = await stack.runResult(await run(biz.id, { leads: phones.map((phone) => ({ phone })) }));
    expect(done.jobs).toMatchObject({ total: 45, completed: 5, skipped_dnc: 40, queued: 0, dialing: 0 });
    const dials = dialsPerNumber(stack, biz.callerId);
    expect([...dials.keys()].sort()).toEqual(phones.slice(40).sort());
    expect([...dials.values()]).toEqual([1, 1, 1, 1, 1]);
  });

  test('the operator-wide list (admin key) blocks every business; a business key may not change it', async () => {
    const [a, b] = [await business(), await business()];
    const number = '+14155870001';
    const key = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${a.id}/api-keys`, {})).body.apiKey.secret;
    expect((await stack.api('POST', '/v1/do-not-call', { numbers: [number] }, { key })).status).toBe(403);
    expect((await stack.api('POST', '/v1/do-not-call', { numbers: [number] })).status).toBe(200);
    try {
      for (const biz of [a, b]) {
        expect((await stack.api('POST', `/v1/businesses/${biz.id}/calls`, { to: number })).body).toMatchObject({ error: { code: 'do_not_call' } });
      }
      const check = await stack.api('GET', `/v1/businesses/${a.id}/do-not-call/${number}`, undefined, { key });
      expect(check.body).toMatchObject({ phone: number, listed: true, entries: [{ list: 'global' }] });
      const r = await run(b.id, { leads: [{ phone: number }, { phone: '+14155870002' }] });
      const done = await stack.runResult(r);
      expect(done.jobs).toMatchObject({ completed: 1, skipped_dnc: 1 });
      expect(stack.carrier.calls({ to: number })).toHaveLength(0);
    } finally {
      expect((await stack.api('DELETE', `/v1/do-not-call/${number}`)).status).toBe(200);
    }
  });

  test('reserved direct slots: a run saturating limit 5 with 2 reserved holds at most 3 at the carrier; 2 direct calls meanwhile succeed', async () => {
    const runCallerId = callerId();
    const biz = await business({ maxConcurrentCalls: 5, reservedDirectSlots: 2, callerIds: [runCallerId] });
    expect(biz.callerIds).toEqual([biz.callerId, runCallerId]);
    const phones = leadPhones(8, '+1415588');
    stack.carrier.setScripts([{ to: '+1415588*', outcome: 'hold' }, { to: '+1415589*', outcome: 'hold' }]);
    const r = await run(biz.id, { callerId: runCallerId, leads: phones.map((phone) => ({ phone })) });
    await stack.carrier.waitForCalls(3, { from: runCallerId, live: true });
    const direct = await Promise.all(['+14155890001', '+14155890002'].map((to) => stack.api('POST', `/v1/businesses/${biz.id}/calls`, { to })));
    expect(direct.map((d) => d.status)).toEqual([201, 201]);
    // All five slots are taken now: a third direct call is refused at the limit.
    expect((await stack.api('POST', `/v1/businesses/${biz.id}/calls`, { to: '+14155890003' })).status).toBe(429);
    // From here on new dials complete by themselves; the held ones are released.
    stack.carrier.setScripts([]);
    stack.carrier.releaseAll();
    const done = await stack.runResult(r);
    expect(done.status).toBe('completed');
    expect(peak(stack, runCallerId)).toBe(3);
    expect(peak(stack, biz.callerId)).toBe(2);
    expect(peakTogether(stack, [runCallerId, biz.callerId])).toBe(5);
    expect([...dialsPerNumber(stack, runCallerId).values()]).toEqual(phones.map(() => 1));
  });

  test('per-run cap: two runs of one business started together never exceed their caps at the carrier', async () => {
    const [capped, open] = [callerId(), callerId()];
    const biz = await business({ maxConcurrentCalls: 3, callerIds: [capped, open] });
    const [r1, r2] = await Promise.all([
      run(biz.id, { callerId: capped, maxConcurrentCalls: 1, leads: leadPhones(6, '+1415591').map((phone) => ({ phone })) }),
      run(biz.id, { callerId: open, leads: leadPhones(10, '+1415592').map((phone) => ({ phone })) }),
    ]);
    const [d1, d2] = await Promise.all([stack.runResult(r1), stack.runResult(r2)]);
    expect([d1.status, d2.status]).toEqual(['completed', 'completed']);
    expect(peak(stack, capped)).toBe(1);
    expect(peakTogether(stack, [capped, open])).toBeLessThanOrEqual(3);
    expect([...dialsPerNumber(stack, capped).values()]).toEqual(Array(6).fill(1));
    expect([...dialsPerNumber(stack, open).values()]).toEqual(Array(10).fill(1));
  });

  test('fairness: two uncapped runs of equal size share the slots; neither is ever more than the limit ahead, and they finish together', async () => {
    const [a, b] = [callerId(), callerId()];
    const biz = await business({ maxConcurrentCalls: 3, callerIds: [a, b] });
    const n = 15;
    // Both runs line up behind three held direct calls, so they start from the same line.
    stack.carrier.setScripts([{ to: '+1415595*', outcome: 'hold' }]);
    for (const to of leadPhones(3, '+1415595')) expect((await stack.api('POST', `/v1/businesses/${biz.id}/calls`, { to })).status).toBe(201);
    const [ra, rb] = await Promise.all([
      run(biz.id, { callerId: a, leads: leadPhones(n, '+1415593').map((phone) => ({ phone })) }),
      run(biz.id, { callerId: b, leads: leadPhones(n, '+1415594').map((phone) => ({ phone })) }),
    ]);
    for (const r of [ra, rb]) await pollUntil(async () => (await stack.latestPass(r.workflowId))?.heldBy === 'business-limit');
    stack.carrier.releaseAll();
    const [da, db] = await Promise.all([stack.runResult(ra), stack.runResult(rb)]);
    expect([da.status, db.status]).toEqual(['completed', 'completed']);
    // The order the carrier saw the dials in: at every point, one run is at most `limit` dials ahead.
    const order = [...stack.carrier.calls({ from: a }), ...stack.carrier.calls({ from: b })].sort((x, y) => x.createdAt - y.createdAt);
    expect(order).toHaveLength(2 * n);
    let lead = 0;
    let worst = 0;
    for (const call of order) {
      lead += call.from === a ? 1 : -1;
      worst = Math.max(worst, Math.abs(lead));
    }
    // From the same line the odd slot alternates: 2 at worst on an idle machine. The bound is the
    // limit: a run whose own pass is slow to come (a loaded machine) can fall one more behind.
    expect(worst).toBeLessThanOrEqual(3);
    // When the first run dialed its last lead, the other had at most `limit` dials left (1 or 2 measured).
    const lastOf = (from: string) => order.map((c) => c.from).lastIndexOf(from);
    expect(Math.abs(lastOf(a) - lastOf(b))).toBeLessThanOrEqual(3);
    expect(peakTogether(stack, [a, b])).toBe(3);
    expect([...dialsPerNumber(stack, a).values(), ...dialsPerNumber(stack, b).values()]).toEqual(Array(2 * n).fill(1));
  });
});
