ALTER TABLE "calls" ADD COLUMN "next_check_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "checks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "calls_next_check_idx" ON "calls" USING btree ("next_check_at") WHERE next_check_at IS NOT NULL;