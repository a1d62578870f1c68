ALTER TABLE "carrier_sends" ALTER COLUMN "sent_at" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "carrier_sends" ADD COLUMN "call_id" uuid;--> statement-breakpoint
ALTER TABLE "carrier_sends" ADD COLUMN "claimed_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "carrier_sends_call_idx" ON "carrier_sends" USING btree ("call_id");