-- A slot notification also carries the transaction that freed the slot (payload: business ID, the
-- run's ID or nothing, the transaction's ID, colon-separated). A dial session whose last claim's
-- snapshot already saw that transaction committed has counted the slot: the notification does not
-- send it to claim again (src/calls/slot-waits.ts).
CREATE OR REPLACE FUNCTION outdial_notify_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.business_id::text || ':' || coalesce(OLD.run_id::text, '') || ':' || pg_current_xact_id()::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_notify_run_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outdial_slots', OLD.business_id::text || ':' || OLD.id::text || ':' || pg_current_xact_id()::text);
  RETURN NULL;
END
$$;
