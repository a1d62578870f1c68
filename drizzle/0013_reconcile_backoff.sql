CREATE TABLE "call_releases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"call_id" uuid NOT NULL,
	"released_by" text NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"released_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "call_releases_status_valid" CHECK (status IN ('failed', 'canceled'))
);
--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "next_check_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "checks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "carrier_unknown_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "call_releases" ADD CONSTRAINT "call_releases_call_id_calls_id_fk" FOREIGN KEY ("call_id") REFERENCES "public"."calls"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "call_releases_call_idx" ON "call_releases" USING btree ("call_id");--> statement-breakpoint
CREATE INDEX "calls_next_check_idx" ON "calls" USING btree ("next_check_at") WHERE next_check_at IS NOT NULL;