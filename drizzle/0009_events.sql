CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tx" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"business_id" uuid NOT NULL,
	"run_id" uuid,
	"call_id" uuid,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "events_run_idx" ON "events" USING btree ("run_id","tx","id") WHERE run_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "events_business_idx" ON "events" USING btree ("business_id","tx","id");--> statement-breakpoint
-- One notification per run (or business, for direct calls) per transaction: listeners then read the
-- events themselves, so a payload never has to carry (or fit) the event.
CREATE OR REPLACE FUNCTION outdial_record_event(p_business uuid, p_run uuid, p_call uuid, p_type text, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (business_id, run_id, call_id, type, data) VALUES (p_business, p_run, p_call, p_type, p_data);
  PERFORM pg_notify('outdial_events', json_build_object('businessId', p_business, 'runId', p_run)::text);
END
$$;
--> statement-breakpoint
-- A call's events: dialed (it left `reserved` for the carrier's first states), answered (in-progress),
-- completed (any terminal status; `outcome` says which). A call that goes straight from reserved to an
-- end (the carrier refused it) has only its completed event.
CREATE OR REPLACE FUNCTION outdial_call_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_status text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status ELSE 'reserved' END;
  terminal boolean := NEW.status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled');
  data jsonb;
BEGIN
  IF old_status = NEW.status THEN RETURN NULL; END IF;
  data := jsonb_build_object(
    'callId', NEW.id, 'direction', NEW.direction, 'to', NEW.to_number, 'from', NEW.from_number,
    'jobId', NEW.job_id, 'status', NEW.status, 'callSid', NEW.twilio_call_sid);
  IF NEW.job_id IS NOT NULL THEN
    data := data || (SELECT jsonb_build_object('leadId', j.lead_id, 'attempt', j.attempt) FROM outbound_call_jobs j WHERE j.id = NEW.job_id);
  END IF;
  IF old_status = 'reserved' AND NOT terminal THEN
    PERFORM outdial_record_event(NEW.business_id, NEW.run_id, NEW.id, 'call.dialed', data);
  END IF;
  IF NEW.status = 'in-progress' THEN
    PERFORM outdial_record_event(NEW.business_id, NEW.run_id, NEW.id, 'call.answered', data || jsonb_build_object('answeredBy', NEW.answered_by));
  END IF;
  IF terminal THEN
    PERFORM outdial_record_event(NEW.business_id, NEW.run_id, NEW.id, 'call.completed', data || jsonb_build_object(
      'outcome', NEW.status, 'durationSeconds', NEW.duration_seconds, 'answeredBy', NEW.answered_by,
      'errorCode', NEW.error_code, 'errorMessage', NEW.last_error, 'answeredAt', NEW.answered_at, 'endedAt', NEW.ended_at));
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER calls_events AFTER INSERT OR UPDATE OF status ON calls FOR EACH ROW EXECUTE FUNCTION outdial_call_events();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_run_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = NEW.status THEN RETURN NULL; END IF;
  PERFORM outdial_record_event(NEW.business_id, NEW.id, NULL, 'run.' || NEW.status,
    jsonb_build_object('status', NEW.status, 'previous', OLD.status, 'lastError', NEW.last_error));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER bulk_call_runs_events AFTER UPDATE OF status ON bulk_call_runs FOR EACH ROW EXECUTE FUNCTION outdial_run_events();
