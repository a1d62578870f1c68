ALTER TABLE "leads" DROP CONSTRAINT "leads_business_id_businesses_id_fk";
--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" DROP CONSTRAINT "outbound_call_jobs_run_id_bulk_call_runs_id_fk";
--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" DROP CONSTRAINT "outbound_call_jobs_lead_id_leads_id_fk";
--> statement-breakpoint
-- The three references a run's upload writes 100,000 times (a lead's business, a job's run and lead),
-- checked once per statement instead of once per row: a foreign key's per-row check cost a
-- 100,000-lead upload about 2 s of Postgres CPU. The guarantee is a foreign key's: every row points at
-- an existing parent, locked FOR KEY SHARE until the transaction ends (so no other deletes it
-- meanwhile), and a parent that still has children is neither deleted nor re-keyed.
--
-- outdial_references_exist(child column, parent table): the parent is keyed by `id`. As a statement
-- trigger it checks the statement's new rows (transition table `inserted`), each distinct parent once;
-- as a row trigger (an UPDATE that sets the column) the one row.
CREATE OR REPLACE FUNCTION outdial_references_exist() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  child_column text := TG_ARGV[0];
  parent text := TG_ARGV[1];
  missing text;
BEGIN
  IF TG_LEVEL = 'ROW' THEN
    EXECUTE format('SELECT CASE WHEN ($1).%1$I IS DISTINCT FROM ($2).%1$I AND NOT EXISTS (SELECT 1 FROM %2$I p WHERE p.id = ($1).%1$I FOR KEY SHARE OF p) THEN ($1).%1$I::text END', child_column, parent)
      USING NEW, OLD INTO missing;
  ELSE
    -- A parent written by this transaction itself is seen by no other, so none can delete it: only
    -- the others are locked, as a foreign key locks them.
    EXECUTE format($q$
      WITH keys AS (SELECT DISTINCT %2$I AS id FROM inserted),
      found AS (SELECT p.id, p.xmin = xid(pg_current_xact_id()) AS own FROM %1$I p JOIN keys USING (id)),
      locked AS (SELECT p.id FROM %1$I p WHERE p.id IN (SELECT id FROM found WHERE NOT own) FOR KEY SHARE OF p),
      present AS (SELECT id FROM found WHERE own UNION ALL SELECT id FROM locked)
      SELECT k.id::text FROM keys k WHERE NOT EXISTS (SELECT 1 FROM present WHERE present.id = k.id) LIMIT 1
    $q$, parent, child_column) INTO missing;
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" violates a reference to "%"', TG_TABLE_NAME, parent
      USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (%s)=(%s) is not present in table "%s".', child_column, missing, parent),
            TABLE = TG_TABLE_NAME, COLUMN = child_column;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- outdial_unreferenced(child table, child column): a parent row still referenced is not deleted, nor
-- its id changed (a foreign key's ON DELETE / ON UPDATE NO ACTION).
CREATE OR REPLACE FUNCTION outdial_unreferenced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  child text := TG_ARGV[0];
  child_column text := TG_ARGV[1];
  referenced boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', child, child_column) USING OLD.id INTO referenced;
  IF referenced THEN
    RAISE EXCEPTION 'update or delete on table "%" violates a reference from "%"', TG_TABLE_NAME, child
      USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, child),
            TABLE = TG_TABLE_NAME;
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
--> statement-breakpoint
CREATE TRIGGER leads_business_exists AFTER INSERT ON leads REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outdial_references_exist('business_id', 'businesses');
--> statement-breakpoint
CREATE TRIGGER leads_business_exists_on_update AFTER UPDATE OF business_id ON leads
  FOR EACH ROW EXECUTE FUNCTION outdial_references_exist('business_id', 'businesses');
--> statement-breakpoint
CREATE TRIGGER outbound_call_jobs_run_exists AFTER INSERT ON outbound_call_jobs REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outdial_references_exist('run_id', 'bulk_call_runs');
--> statement-breakpoint
CREATE TRIGGER outbound_call_jobs_run_exists_on_update AFTER UPDATE OF run_id ON outbound_call_jobs
  FOR EACH ROW EXECUTE FUNCTION outdial_references_exist('run_id', 'bulk_call_runs');
--> statement-breakpoint
CREATE TRIGGER outbound_call_jobs_lead_exists AFTER INSERT ON outbound_call_jobs REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outdial_references_exist('lead_id', 'leads');
--> statement-breakpoint
CREATE TRIGGER outbound_call_jobs_lead_exists_on_update AFTER UPDATE OF lead_id ON outbound_call_jobs
  FOR EACH ROW EXECUTE FUNCTION outdial_references_exist('lead_id', 'leads');
--> statement-breakpoint
CREATE TRIGGER businesses_unreferenced_by_leads BEFORE DELETE OR UPDATE OF id ON businesses
  FOR EACH ROW EXECUTE FUNCTION outdial_unreferenced('leads', 'business_id');
--> statement-breakpoint
CREATE TRIGGER bulk_call_runs_unreferenced_by_jobs BEFORE DELETE OR UPDATE OF id ON bulk_call_runs
  FOR EACH ROW EXECUTE FUNCTION outdial_unreferenced('outbound_call_jobs', 'run_id');
--> statement-breakpoint
CREATE TRIGGER leads_unreferenced_by_jobs BEFORE DELETE OR UPDATE OF id ON leads
  FOR EACH ROW EXECUTE FUNCTION outdial_unreferenced('outbound_call_jobs', 'lead_id');
