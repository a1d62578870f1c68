CREATE TABLE "carrier_sends" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account" text NOT NULL,
	"sent_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "carrier_sends_account_sent_idx" ON "carrier_sends" USING btree ("account","sent_at");