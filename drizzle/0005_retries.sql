ALTER TABLE "bulk_call_runs" ADD COLUMN "retry_policy" jsonb;--> statement-breakpoint
ALTER TABLE "outbound_call_jobs" ADD COLUMN "not_before" timestamp with time zone;