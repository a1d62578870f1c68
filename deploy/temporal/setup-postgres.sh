#!/bin/sh
# Creates (first start) or upgrades (later starts) Temporal's two databases on the compose Postgres,
# with Temporal's own schema tool: the step temporalio/auto-setup used to do inside the server.
set -eu
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS}" "${POSTGRES_USER:?set POSTGRES_USER}" "${SQL_PASSWORD:?set SQL_PASSWORD}"
PORT=${DB_PORT:-5432}
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$PORT" "$@"; }
until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do echo 'waiting for Postgres'; sleep 1; done
for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  # `create` and the base schema only on the first start; `update-schema` is what later versions need.
  tool --db "$db" create 2>/dev/null || echo "database $db exists"
  tool --db "$db" setup-schema -v 0.0 2>/dev/null || echo "schema of $db exists"
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo 'Temporal schema ready'
