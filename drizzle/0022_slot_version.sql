-- Moves with every reservation of a business's slots and every change of its limits: a claim that
-- counted the slots without holding the slot lock commits only if it has not moved (src/claim/bulk.ts).
ALTER TABLE "businesses" ADD COLUMN "slot_version" bigint DEFAULT 0 NOT NULL;
