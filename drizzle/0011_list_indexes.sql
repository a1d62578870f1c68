CREATE INDEX "bulk_call_runs_business_created_idx" ON "bulk_call_runs" USING btree ("business_id","created_at","id");--> statement-breakpoint
CREATE INDEX "calls_business_created_idx" ON "calls" USING btree ("business_id","created_at","id");--> statement-breakpoint
CREATE INDEX "outbound_call_jobs_run_position_idx" ON "outbound_call_jobs" USING btree ("run_id","position","attempt");