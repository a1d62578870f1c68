-- Unlogged: the watches are renewed by the API processes that stream runs, so a crash loses nothing
-- they do not write again within one renewal.
CREATE UNLOGGED TABLE "event_watches" (
	"run_id" uuid PRIMARY KEY NOT NULL,
	"until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- A commit that NOTIFYs holds a cluster-wide lock through its WAL flush, so notifying commits run one
-- at a time: at a hundred calls a second, three per call were the top wait of the callbacks. Only a
-- run some stream follows (event_watches) is announced; its readers poll as a backstop.
CREATE OR REPLACE FUNCTION outdial_record_event(p_business uuid, p_run uuid, p_call uuid, p_type text, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (business_id, run_id, call_id, type, data) VALUES (p_business, p_run, p_call, p_type, p_data);
  IF p_run IS NOT NULL AND EXISTS (SELECT 1 FROM event_watches w WHERE w.run_id = p_run AND w.until > now()) THEN
    PERFORM pg_notify('outdial_events', json_build_object('businessId', p_business, 'runId', p_run)::text);
  END IF;
END
$$;
