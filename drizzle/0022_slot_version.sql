-- Moves with every reservation of a business's slots and every change of its limits: a claim that
-- counted the slots without holding the slot lock commits only if it has not moved (src/claim/bulk.ts).
-- Moved by triggers, so that every writer of calls moves it, whatever process or version of the code
-- it runs (a rolling deploy has both).
ALTER TABLE "businesses" ADD COLUMN "slot_version" bigint DEFAULT 0 NOT NULL;
--> statement-breakpoint
-- One update of each business a statement reserved calls of: its version, and the last-claim stamp
-- the slot refill metric starts from.
CREATE OR REPLACE FUNCTION outdial_slots_taken() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE businesses b SET slot_version = b.slot_version + 1, last_claim_at = clock_timestamp()
   WHERE b.id IN (SELECT DISTINCT i.business_id FROM inserted i);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER calls_slots_taken AFTER INSERT ON calls REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outdial_slots_taken();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_limits_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.max_concurrent_calls IS DISTINCT FROM OLD.max_concurrent_calls OR NEW.reserved_direct_slots IS DISTINCT FROM OLD.reserved_direct_slots THEN
    NEW.slot_version := OLD.slot_version + 1;
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER businesses_limits_version BEFORE UPDATE OF max_concurrent_calls, reserved_direct_slots ON businesses
  FOR EACH ROW EXECUTE FUNCTION outdial_limits_version();
