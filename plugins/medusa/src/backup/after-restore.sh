#!/bin/sh
# After a restore, in the postgres image: removes the restored login of
# this store's administrator (ADMIN_EMAIL), whose password is the one of
# the store the backup was taken from. The engine then runs the store's init
# Job again (files/init.sh), which finds the admin user without a login,
# drops it and creates it with this store's password (the admin Secret),
# converges the storefront's publishable key on this store's Secret and
# applies any migration the backup predates.
#
# Other users keep their logins. Idempotent: with no such login it changes
# nothing.
#
# Inputs (environment): ADMIN_EMAIL; DB_HOST, DB_PORT, DB_NAME, DB_USER,
# DB_PASSWORD as for restore.sh.
set -eu

log() { printf '[after-restore] %s\n' "$*"; }
fail() {
  printf '[after-restore] FAILED: %s\n' "$*" >&2
  exit 1
}
: "${ADMIN_EMAIL:?}"
PGHOST="${DB_HOST:?}"
PGPORT="${DB_PORT:-5432}"
PGDATABASE="${DB_NAME:?}"
PGUSER="${DB_USER:?}"
PGPASSWORD="${DB_PASSWORD:?}"
export PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD

log "== the restored login of ${ADMIN_EMAIL} goes; the init Job recreates it with this store's password"
# The address is a psql variable (:'email' quotes it), never SQL text.
psql -X -q -v ON_ERROR_STOP=1 -v email="$ADMIN_EMAIL" <<'SQL' || fail "removing the restored login"
BEGIN;
CREATE TEMPORARY TABLE gone ON COMMIT DROP AS
  SELECT auth_identity_id FROM provider_identity
   WHERE provider = 'emailpass' AND entity_id = :'email';
DELETE FROM provider_identity WHERE provider = 'emailpass' AND entity_id = :'email';
DELETE FROM auth_identity a
 WHERE a.id IN (SELECT auth_identity_id FROM gone)
   AND NOT EXISTS (SELECT 1 FROM provider_identity p WHERE p.auth_identity_id = a.id);
COMMIT;
SQL
log "done"
