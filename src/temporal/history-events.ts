import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The marker a local activity leaves in its workflow's history (one per completed attempt). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * The activity type an event started: a scheduled activity, or a local activity's marker (its
 * details carry the type as JSON). Null for any other event. Dial passes are counted by it, whether
 * they ran as regular or local activities.
 */
export function activityTypeOf(event: HistoryEvent): string | null {
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled) return scheduled.activityType?.name ?? null;
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== LOCAL_ACTIVITY_MARKER) return null;
  try {
    const data = marker.details?.data?.payloads?.[0]?.data;
    return (JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string }).activity_type ?? null;
  } catch {
    return null;
  }
}
