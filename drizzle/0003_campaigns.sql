CREATE TABLE "do_not_call_numbers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"business_id" uuid,
	"phone" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "do_not_call_numbers_scope_phone_unique" UNIQUE NULLS NOT DISTINCT("business_id","phone"),
	CONSTRAINT "do_not_call_numbers_phone_e164" CHECK (phone ~ '^\+[1-9][0-9]{6,14}$')
);
--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" DROP CONSTRAINT "outbound_call_jobs_status_valid";--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "voice_app" jsonb;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "caller_id" text;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "machine_detection" jsonb;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "max_concurrent_calls" integer;--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD COLUMN "jobs_claimed" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "businesses" ADD COLUMN "caller_ids" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "businesses" ADD COLUMN "reserved_direct_slots" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "businesses" ADD COLUMN "voice_app" jsonb;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "answered_by" text;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "on_machine" text;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "amd_callback_url" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "variables" jsonb;--> statement-breakpoint
ALTER TABLE "do_not_call_numbers" ADD CONSTRAINT "do_not_call_numbers_business_id_businesses_id_fk" FOREIGN KEY ("business_id") REFERENCES "public"."businesses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "do_not_call_numbers_phone_idx" ON "do_not_call_numbers" USING btree ("phone");--> statement-breakpoint
ALTER TABLE "bulk_call_runs" ADD CONSTRAINT "bulk_call_runs_max_concurrent_calls_range" CHECK (max_concurrent_calls IS NULL OR max_concurrent_calls BETWEEN 1 AND 1000);--> statement-breakpoint
ALTER TABLE "businesses" ADD CONSTRAINT "businesses_reserved_direct_slots_range" CHECK (reserved_direct_slots >= 0 AND reserved_direct_slots < max_concurrent_calls);--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_answered_by_valid" CHECK (answered_by IS NULL OR answered_by IN ('human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown'));--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_on_machine_valid" CHECK (on_machine IS NULL OR on_machine IN ('hangup', 'continue'));--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" ADD CONSTRAINT "outbound_call_jobs_status_valid" CHECK (status IN ('queued', 'dialing', 'completed', 'failed', 'canceled', 'skipped_dnc'));