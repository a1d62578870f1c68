ALTER TABLE "bulk_call_runs" ADD COLUMN "session_until" timestamp with time zone;--> statement-breakpoint
-- Dial sessions hear a business's freed slots from Postgres (channel outdial_slots, payload: the
-- business ID). One definition in the database for every way a slot frees: a call leaving the active
-- set (any callback, reconciliation, a refused create), a reservation withdrawn, a run's status
-- changing (a pause or cancel ends its session's wait), a business's limit changing. NOTIFY folds
-- repeats of one payload in a transaction into one. The active statuses are ACTIVE_CALL_STATUSES
-- (src/db/statuses.ts).
CREATE OR REPLACE FUNCTION outdial_notify_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.business_id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_notify_business_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER calls_slot_freed AFTER UPDATE OF status ON calls FOR EACH ROW
  WHEN (OLD.status IN ('reserved', 'queued', 'initiated', 'ringing', 'in-progress') AND NEW.status NOT IN ('reserved', 'queued', 'initiated', 'ringing', 'in-progress'))
  EXECUTE FUNCTION outdial_notify_slots();
--> statement-breakpoint
CREATE TRIGGER calls_slot_withdrawn AFTER DELETE ON calls FOR EACH ROW
  WHEN (OLD.status IN ('reserved', 'queued', 'initiated', 'ringing', 'in-progress'))
  EXECUTE FUNCTION outdial_notify_slots();
--> statement-breakpoint
CREATE TRIGGER bulk_call_runs_status_changed AFTER UPDATE OF status ON bulk_call_runs FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION outdial_notify_slots();
--> statement-breakpoint
CREATE TRIGGER businesses_limits_changed AFTER UPDATE OF max_concurrent_calls, reserved_direct_slots ON businesses FOR EACH ROW
  WHEN (OLD.max_concurrent_calls IS DISTINCT FROM NEW.max_concurrent_calls OR OLD.reserved_direct_slots IS DISTINCT FROM NEW.reserved_direct_slots)
  EXECUTE FUNCTION outdial_notify_business_slots();
