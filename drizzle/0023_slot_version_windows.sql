-- The slot version also moves with a change of the business's calling window or time zone: a gated
-- claim reads them with the slots, so one that read the old window commits nothing once a change has
-- committed, and reads again (src/claim/bulk.ts). After a PATCH that narrows the window commits, no
-- lead is claimed by the old one.
CREATE OR REPLACE FUNCTION outdial_limits_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.max_concurrent_calls IS DISTINCT FROM OLD.max_concurrent_calls OR NEW.reserved_direct_slots IS DISTINCT FROM OLD.reserved_direct_slots
     OR NEW.calling_window IS DISTINCT FROM OLD.calling_window OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
    NEW.slot_version := OLD.slot_version + 1;
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
DROP TRIGGER businesses_limits_version ON businesses;
--> statement-breakpoint
CREATE TRIGGER businesses_limits_version BEFORE UPDATE OF max_concurrent_calls, reserved_direct_slots, calling_window, time_zone ON businesses
  FOR EACH ROW EXECUTE FUNCTION outdial_limits_version();
