import type { CallRecord } from './call-record';
import type { ApiRequestRecord, CallbackRecord, LiveCount, SandboxStats, VoiceRequestRecord } from './types';

/**
 * Live and peak simultaneous calls per From and per account, plus the callback and request logs.
 * Later tests measure Outdial's concurrency limit with these counts, so they change synchronously
 * with the call's status: +1 when the create is accepted, -1 on the terminal transition, before that
 * transition's callback is even queued.
 */
export class Instrumentation {
  private perFrom = new Map<string, LiveCount>();
  private perAccount = new Map<string, LiveCount>();
  private callbackLog: CallbackRecord[] = [];
  private requestLog: ApiRequestRecord[] = [];
  private voiceLog: VoiceRequestRecord[] = [];
  private nextCallbackId = 1;
  private nextVoiceId = 1;

  callStarted(call: CallRecord): void {
    bump(this.perFrom, call.from, +1);
    bump(this.perAccount, call.accountSid, +1);
  }

  callEnded(call: CallRecord): void {
    bump(this.perFrom, call.from, -1);
    bump(this.perAccount, call.accountSid, -1);
  }

  liveTotal(): number {
    let live = 0;
    for (const c of this.perAccount.values()) live += c.live;
    return live;
  }

  stats(): SandboxStats {
    return { perFrom: snapshot(this.perFrom), perAccount: snapshot(this.perAccount) };
  }

  recordCallback(record: Omit<CallbackRecord, 'id'>): CallbackRecord {
    const full = { id: this.nextCallbackId++, ...record };
    this.callbackLog.push(full);
    return full;
  }

  callbacks(): readonly CallbackRecord[] {
    return this.callbackLog;
  }

  recordVoiceRequest(record: Omit<VoiceRequestRecord, 'id'>): VoiceRequestRecord {
    const full = { id: this.nextVoiceId++, ...record };
    this.voiceLog.push(full);
    return full;
  }

  voiceRequests(): readonly VoiceRequestRecord[] {
    return this.voiceLog;
  }

  recordRequest(record: ApiRequestRecord): void {
    this.requestLog.push(record);
  }

  requests(): readonly ApiRequestRecord[] {
    return this.requestLog;
  }

  reset(): void {
    this.perFrom.clear();
    this.perAccount.clear();
    this.callbackLog = [];
    this.requestLog = [];
    this.voiceLog = [];
  }
}

function bump(map: Map<string, LiveCount>, key: string, delta: number): void {
  let count = map.get(key);
  if (!count) {
    count = { live: 0, peak: 0 };
    map.set(key, count);
  }
  count.live += delta;
  if (count.live > count.peak) count.peak = count.live;
}

function snapshot(map: Map<string, LiveCount>): Record<string, LiveCount> {
  const out: Record<string, LiveCount> = {};
  for (const [k, v] of map) out[k] = { live: v.live, peak: v.peak };
  return out;
}
