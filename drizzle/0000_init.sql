CREATE TABLE "bulk_call_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"business_id" uuid NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"workflow_id" text NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "bulk_call_runs_status_valid" CHECK (status IN ('pending', 'running', 'paused', 'canceling', 'canceled', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "businesses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"caller_id" text NOT NULL,
	"max_concurrent_calls" integer DEFAULT 3 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "businesses_name_not_blank" CHECK (length(trim(name)) > 0),
	CONSTRAINT "businesses_caller_id_e164" CHECK (caller_id ~ '^\+[1-9][0-9]{6,14}$'),
	CONSTRAINT "businesses_max_concurrent_calls_range" CHECK (max_concurrent_calls BETWEEN 1 AND 1000)
);
--> statement-breakpoint
CREATE TABLE "calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"business_id" uuid NOT NULL,
	"direction" text NOT NULL,
	"status" text DEFAULT 'reserved' NOT NULL,
	"to_number" text NOT NULL,
	"from_number" text NOT NULL,
	"twilio_call_sid" text,
	"run_id" uuid,
	"job_id" uuid,
	"last_sequence_number" integer,
	"error_code" integer,
	"last_error" text,
	"duration_seconds" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dialed_at" timestamp with time zone,
	"answered_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "calls_status_valid" CHECK (status IN ('reserved', 'queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled')),
	CONSTRAINT "calls_direction_valid" CHECK (direction IN ('bulk', 'direct')),
	CONSTRAINT "calls_to_e164" CHECK (to_number ~ '^\+[1-9][0-9]{6,14}$'),
	CONSTRAINT "calls_bulk_has_job" CHECK ((direction = 'bulk') = (job_id IS NOT NULL AND run_id IS NOT NULL)),
	CONSTRAINT "calls_sid_format" CHECK (twilio_call_sid IS NULL OR twilio_call_sid ~ '^CA[0-9a-fA-F]{32}$')
);
--> statement-breakpoint
CREATE TABLE "leads" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"business_id" uuid NOT NULL,
	"phone" text NOT NULL,
	"name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "leads_phone_e164" CHECK (phone ~ '^\+[1-9][0-9]{6,14}$')
);
--> statement-breakpoint
CREATE TABLE "outbound_call_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"lead_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"dial_started_at" timestamp with time zone,
	"dial_lock_token" uuid,
	"twilio_call_sid" text,
	"outcome" text,
	"error_code" integer,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "outbound_call_jobs_status_valid" CHECK (status IN ('queued', 'dialing', 'completed', 'failed', 'canceled')),
	CONSTRAINT "outbound_call_jobs_attempt_positive" CHECK (attempt >= 1),
	CONSTRAINT "outbound_call_jobs_claim_consistent" CHECK (status <> 'dialing' OR (dial_lock_token IS NOT NULL AND dial_started_at IS NOT NULL))
);
--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD CONSTRAINT "bulk_call_runs_business_id_businesses_id_fk" FOREIGN KEY ("business_id") REFERENCES "public"."businesses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_business_id_businesses_id_fk" FOREIGN KEY ("business_id") REFERENCES "public"."businesses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_run_id_bulk_call_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."bulk_call_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_job_id_outbound_call_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."outbound_call_jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_business_id_businesses_id_fk" FOREIGN KEY ("business_id") REFERENCES "public"."businesses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" ADD CONSTRAINT "outbound_call_jobs_run_id_bulk_call_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."bulk_call_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" ADD CONSTRAINT "outbound_call_jobs_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bulk_call_runs_workflow_id_unique" ON "bulk_call_runs" USING btree ("workflow_id");--> statement-breakpoint
CREATE INDEX "bulk_call_runs_business_status_idx" ON "bulk_call_runs" USING btree ("business_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "calls_twilio_call_sid_unique" ON "calls" USING btree ("twilio_call_sid");--> statement-breakpoint
CREATE UNIQUE INDEX "calls_job_unique" ON "calls" USING btree ("job_id");--> statement-breakpoint
CREATE INDEX "calls_active_by_business_idx" ON "calls" USING btree ("business_id") WHERE status IN ('reserved', 'queued', 'initiated', 'ringing', 'in-progress');--> statement-breakpoint
CREATE INDEX "calls_run_status_idx" ON "calls" USING btree ("run_id","status");--> statement-breakpoint
CREATE INDEX "leads_business_idx" ON "leads" USING btree ("business_id");--> statement-breakpoint
CREATE UNIQUE INDEX "outbound_call_jobs_run_lead_attempt_unique" ON "outbound_call_jobs" USING btree ("run_id","lead_id","attempt");--> statement-breakpoint
CREATE INDEX "outbound_call_jobs_queued_idx" ON "outbound_call_jobs" USING btree ("run_id","position") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "outbound_call_jobs_run_status_idx" ON "outbound_call_jobs" USING btree ("run_id","status");