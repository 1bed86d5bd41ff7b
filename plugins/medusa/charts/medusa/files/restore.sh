#!/bin/sh
# Medusa store restore, the mirror of backup.sh: a restore Job puts a
# backup's files into $BACKUP_DIR, then runs this in the official postgres
# image of the store's server version. Afterwards the store database equals
# the dump, whatever it held before.
#
# Before it changes anything it checks the backup: the manifest is a
# storeplane Medusa one, every file it lists is present with its sha256,
# and the archive reads. A damaged backup, a partial download or another
# engine's backup is refused with the database untouched.
#
# Inputs (environment):
#   BACKUP_DIR     the directory holding the backup (required)
#   DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD
#                  the store database, named as in the chart's backend and
#                  init containers (medusa.backendEnv); where one is unset,
#                  libpq's own PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD.
#                  The user must own the database (the chart's is its owner).
#   WAIT_SECONDS   how long to wait for the database to answer (default 300)
#
# POSIX sh: the postgres images' shells are dash (Debian) and busybox ash
# (Alpine).
set -eu

FORMAT="storeplane-backup/1"
ENGINE="medusa"

log() { printf '[restore] %s\n' "$*"; }
fail() {
  printf '[restore] FAILED: %s\n' "$*" >&2
  exit 1
}

: "${BACKUP_DIR:?BACKUP_DIR is not set}"
[ -d "$BACKUP_DIR" ] || fail "BACKUP_DIR ${BACKUP_DIR} is not a directory"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

# libpq reads the connection from the environment: no password on any
# command line.
PGHOST="${DB_HOST:-${PGHOST:-}}"
PGPORT="${DB_PORT:-${PGPORT:-5432}}"
PGDATABASE="${DB_NAME:-${PGDATABASE:-}}"
PGUSER="${DB_USER:-${PGUSER:-}}"
PGPASSWORD="${DB_PASSWORD:-${PGPASSWORD:-}}"
export PGHOST PGPORT PGDATABASE PGUSER
[ -z "$PGPASSWORD" ] || export PGPASSWORD
[ -n "$PGHOST" ] || fail "DB_HOST (or PGHOST) is not set"
[ -n "$PGDATABASE" ] || fail "DB_NAME (or PGDATABASE) is not set"
[ -n "$PGUSER" ] || fail "DB_USER (or PGUSER) is not set"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storeplane-restore.XXXXXX")" ||
  fail "cannot make a private directory under ${TMPDIR:-/tmp}"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM

sha256_of() {
  sum="$(sha256sum <"$1")" || return 1
  printf '%s\n' "${sum%% *}"
}

# Refuses the backup unless its manifest is a Medusa one of our format,
# every file it lists matches its sha256, and it lists database.pgdump.
manifest="$BACKUP_DIR/manifest"
[ -f "$manifest" ] || fail "no manifest in ${BACKUP_DIR}: not a storeplane backup, refusing to restore it"
format=""
engine=""
while read -r key value _; do
  case "$key" in
    format) format="$value" ;;
    engine) engine="$value" ;;
  esac
done <"$manifest"
[ "$format" = "$FORMAT" ] ||
  fail "the manifest's format is '${format}', not ${FORMAT}: refusing to restore it"
[ "$engine" = "$ENGINE" ] ||
  fail "this is a backup of a ${engine:-unknown} store, not a Medusa one: refusing to restore it"
listed=""
while read -r key name sha _; do
  [ "$key" = file ] || continue
  case "$name" in
    "" | .* | *[!A-Za-z0-9._-]*) fail "the manifest names a file '${name}' no backup writes: refusing to restore it" ;;
  esac
  [ -f "$BACKUP_DIR/$name" ] ||
    fail "${name} is in the manifest but not in ${BACKUP_DIR}: the backup is incomplete, refusing to restore it"
  actual="$(sha256_of "$BACKUP_DIR/$name")" || fail "cannot read ${name}"
  [ "$actual" = "$sha" ] ||
    fail "${name} does not match the manifest (sha256 ${actual}, expected ${sha}): the backup is damaged, refusing to restore it; nothing was changed"
  log "${name}: sha256 matches the manifest"
  if [ "$name" = database.pgdump ]; then listed=yes; fi
done <"$manifest"
[ -n "$listed" ] || fail "the backup has no database.pgdump: refusing to restore it"
dump="$BACKUP_DIR/database.pgdump"
pg_restore --list "$dump" >"$WORK/toc" ||
  fail "database.pgdump does not read (made by a newer pg_dump?); nothing was changed"

log "== database ${PGDATABASE} on ${PGHOST}:${PGPORT} as ${PGUSER}"
waited=0
until psql -X -q -t -c 'SELECT 1' >/dev/null 2>"$WORK/connect.err"; do
  [ "$waited" -lt "$WAIT_SECONDS" ] ||
    fail "the database did not answer within ${WAIT_SECONDS}s: $(cat "$WORK/connect.err"); nothing was changed"
  sleep 2
  waited=$((waited + 2))
done
started="$(date +%s)"

# Why not `pg_restore --clean --if-exists --single-transaction`: --clean
# drops only what the dump holds, so a table or an index a newer migration
# added after the backup would survive the restore (and a foreign key from
# it can make the drops fail); the database would not equal the dump. So
# every schema goes, public is recreated as initdb makes it (PostgreSQL 15
# and later: owned by pg_database_owner, usable by all), and the dump loads
# into the empty database.
#
# And all of it in one transaction: the drops, and pg_restore's script fed
# to psql. The COMMIT is only sent after pg_restore has written its whole
# script; if it fails half-way, psql reaches the end of its input inside
# the open transaction and the server rolls it back on disconnect. An error
# in the SQL stops psql (ON_ERROR_STOP), which rolls back the same way. So
# the database is either the dump or exactly what it was.
#
# lock_timeout: a backend holding a transaction open would make the drops
# wait for it forever; the restore fails instead, and the Job's retry tries
# again. (pg_restore's script resets it to 0 for its own statements, after
# the drops already hold their locks.)
log "== replacing ${PGDATABASE} with the dump, in one transaction"
{
  cat <<'SQL'
SET client_min_messages = warning;
SET lock_timeout = '2min';
BEGIN;
DO $$
DECLARE
  schema_name name;
BEGIN
  FOR schema_name IN
    SELECT nspname FROM pg_catalog.pg_namespace
     WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%'
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', schema_name);
  END LOOP;
END
$$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
SQL
  if pg_restore --no-owner --no-acl --file=- "$dump"; then
    printf 'COMMIT;\n'
  else
    : >"$WORK/pg_restore.failed"
  fi
} | psql -X -q -v ON_ERROR_STOP=1 >/dev/null ||
  fail "loading the dump failed (psql's error is above); the transaction was rolled back, the database is as it was"
[ ! -e "$WORK/pg_restore.failed" ] ||
  fail "pg_restore could not read the whole dump; the transaction was rolled back, the database is as it was"

tables="$(psql -X -q -t -A -c "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" ||
  fail "reading the restored database"
log "restored ${tables} tables in $(($(date +%s) - started))s"
log "done: ${PGDATABASE} is the backup's database"
