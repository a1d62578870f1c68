-- A slot notification names the run it came from (payload: business ID, a colon, the run's ID or
-- nothing): a call of the run leaving the active set, a reservation of it withdrawn, its status
-- changing. The worker wakes that run's dial session first, and only when it has none waiting the
-- business's longest-waiting one (src/calls/slot-waits.ts). A business's limit changing names no run.
CREATE OR REPLACE FUNCTION outdial_notify_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.business_id::text || ':' || coalesce(OLD.run_id::text, ''));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_notify_run_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.business_id::text || ':' || OLD.id::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
DROP TRIGGER bulk_call_runs_status_changed ON bulk_call_runs;
--> statement-breakpoint
CREATE TRIGGER bulk_call_runs_status_changed AFTER UPDATE OF status ON bulk_call_runs FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION outdial_notify_run_slots();
