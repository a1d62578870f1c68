import type { CallbackFault, FaultInjection } from './types';

export type CreateFaultEntry =
  | { kind: '429' }
  | { kind: '5xx'; status: number; created: boolean }
  | { kind: 'delay'; delayMs: number };

/** The injected faults no request or call has consumed yet. */
export type PendingFaults = { create: CreateFaultEntry[]; callbacks: CallbackFault[][] };

/**
 * Faults queued for the next requests and calls. Create faults form one FIFO, consumed one per
 * create request on arrival (whether or not the request is then valid), so "the next N creates"
 * means exactly the next N requests the client sends.
 */
export class FaultBook {
  private createQueue: CreateFaultEntry[] = [];
  private callbackQueue: CallbackFault[][] = [];

  inject(f: FaultInjection): void {
    for (let i = 0; i < (f.create429 ?? 0); i++) this.createQueue.push({ kind: '429' });
    if (f.create5xx !== undefined) {
      const spec = typeof f.create5xx === 'number' ? { count: f.create5xx } : f.create5xx;
      for (let i = 0; i < spec.count; i++) this.createQueue.push({ kind: '5xx', status: spec.status ?? 500, created: spec.created ?? false });
    }
    if (f.acceptThenTimeout) {
      for (let i = 0; i < (f.acceptThenTimeout.count ?? 1); i++) this.createQueue.push({ kind: 'delay', delayMs: f.acceptThenTimeout.delayMs });
    }
    if (f.callbacks) for (let i = 0; i < (f.callbacks.count ?? 1); i++) this.callbackQueue.push(f.callbacks.faults);
  }

  takeCreateFault(): CreateFaultEntry | undefined {
    return this.createQueue.shift();
  }

  takeCallbackFaults(): CallbackFault[] {
    return this.callbackQueue.shift() ?? [];
  }

  pending(): PendingFaults {
    return { create: [...this.createQueue], callbacks: [...this.callbackQueue] };
  }

  /** Drops every fault not yet consumed, returning them. */
  clear(): PendingFaults {
    const dropped = this.pending();
    this.createQueue = [];
    this.callbackQueue = [];
    return dropped;
  }
}
