-- The next opening is a moment the lead is inside its window both then and `margin` later (the
-- claim's own test: a claimed call may be dialed up to that much later), so a lead whose window
-- closes within the margin opens next time, not now.
DROP FUNCTION IF EXISTS outdial_next_opening(timestamptz, text[], jsonb);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outdial_next_opening(after timestamptz, zones text[], w jsonb, margin interval) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN outdial_in_window(after, zones, w) AND outdial_in_window(after + margin, zones, w) THEN after ELSE (
    SELECT min(c.at) FROM (
      SELECT ((((after AT TIME ZONE z.zone)::date + d) + (w->>'start')::time) AT TIME ZONE z.zone) AS at
        FROM unnest(zones) AS z(zone), generate_series(-1, 31) AS d
    ) c
    WHERE c.at > after AND outdial_in_window(c.at, zones, w) AND outdial_in_window(c.at + margin, zones, w)
  ) END
$$;
