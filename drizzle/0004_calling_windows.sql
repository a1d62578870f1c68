ALTER TABLE "outbound_call_jobs" DROP CONSTRAINT "outbound_call_jobs_status_valid";--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "calling_window" jsonb;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "start_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "stop_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "waiting_reason" text;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "waiting_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "businesses" ADD COLUMN "time_zone" text DEFAULT 'America/New_York' NOT NULL;--> statement-breakpoint
ALTER TABLE "businesses" ADD COLUMN "calling_window" jsonb;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "time_zones" text[];--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" ADD CONSTRAINT "outbound_call_jobs_status_valid" CHECK (status IN ('queued', 'dialing', 'completed', 'failed', 'canceled', 'skipped_dnc', 'expired'));--> statement-breakpoint
-- Is `at` inside the calling window `w` in every one of `zones`? Local time comes from Postgres's
-- time-zone database, so daylight-saving changes are its business, never a fixed offset.
-- An end before the start crosses midnight; days and blackout dates are of the local date at `at`.
CREATE OR REPLACE FUNCTION outdial_in_window(at timestamptz, zones text[], w jsonb) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce((w->>'alwaysOpen')::boolean, false) OR (
    cardinality(zones) > 0 AND NOT EXISTS (
      SELECT 1 FROM unnest(zones) AS z(zone), LATERAL (SELECT at AT TIME ZONE z.zone AS lt) l
       WHERE NOT (
         (w->'days') ? lower(to_char(l.lt, 'Dy'))
         AND NOT coalesce((w->'blackoutDates') ? to_char(l.lt, 'YYYY-MM-DD'), false)
         AND CASE WHEN (w->>'start')::time <= (w->>'end')::time
                  THEN l.lt::time >= (w->>'start')::time AND l.lt::time < (w->>'end')::time
                  ELSE l.lt::time >= (w->>'start')::time OR l.lt::time < (w->>'end')::time END
       )
    )
  )
$$;
--> statement-breakpoint
-- The first moment at or after `after` inside the window in every zone, looked for over the next 31
-- local days (null if none): the window opens in all zones at the latest of their openings, which
-- is one zone's local start time on some day.
CREATE OR REPLACE FUNCTION outdial_next_opening(after timestamptz, zones text[], w jsonb) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN outdial_in_window(after, zones, w) THEN after ELSE (
    SELECT min(c.at) FROM (
      SELECT ((((after AT TIME ZONE z.zone)::date + d) + (w->>'start')::time) AT TIME ZONE z.zone) AS at
        FROM unnest(zones) AS z(zone), generate_series(-1, 31) AS d
    ) c
    WHERE c.at > after AND outdial_in_window(c.at, zones, w)
  ) END
$$;
