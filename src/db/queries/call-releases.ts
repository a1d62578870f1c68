import type { Executor } from './executor';

/** Queries of `call_releases`: the audit of held calls an operator ended by hand. */

export interface CallReleaseRow {
  id: string;
  call_id: string;
  released_by: string;
  reason: string;
  status: 'failed' | 'canceled';
  released_at: Date;
}

export async function insertCallRelease(db: Executor, release: { callId: string; releasedBy: string; reason: string; status: 'failed' | 'canceled' }): Promise<CallReleaseRow> {
  const r = await db.query<CallReleaseRow>('INSERT INTO call_releases (call_id, released_by, reason, status) VALUES ($1, $2, $3, $4) RETURNING *', [
    release.callId,
    release.releasedBy,
    release.reason,
    release.status,
  ]);
  return r.rows[0]!;
}
