#!/bin/sh
# Medusa store backup, run by a backup Job in the official postgres image of
# the store's server version (pg_dump refuses a server newer than itself,
# and pg_restore an archive newer than itself). Writes into $BACKUP_DIR (an
# emptyDir a later container uploads):
#
#   database.pgdump  pg_dump's custom format (-Fc: compressed, read back by
#                    pg_restore) of the store database, without owners or
#                    grants, so it restores as whichever role runs restore.sh
#   manifest         what the backup holds and each file's sha256; restore.sh
#                    refuses a backup that does not match it, or whose engine
#                    is not Medusa. Plain text, one record a line:
#                      format storeplane-backup/1
#                      engine medusa
#                      created <UTC time>
#                      file <name> <sha256> <bytes> <UTC time it was written>
#
# Inputs (environment):
#   BACKUP_DIR     the directory to write into (required)
#   DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD
#                  the store database, named as in the chart's backend and
#                  init containers (medusa.backendEnv); where one is unset,
#                  libpq's own PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD
#   WAIT_SECONDS   how long to wait for the database to answer (default 300)
#
# POSIX sh: the postgres images' shells are dash (Debian) and busybox ash
# (Alpine).
set -eu

FORMAT="storeplane-backup/1"
ENGINE="medusa"

log() { printf '[backup] %s\n' "$*"; }
fail() {
  printf '[backup] FAILED: %s\n' "$*" >&2
  exit 1
}
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

: "${BACKUP_DIR:?BACKUP_DIR is not set}"
if [ ! -d "$BACKUP_DIR" ] || [ ! -w "$BACKUP_DIR" ]; then
  fail "BACKUP_DIR ${BACKUP_DIR} is not a writable directory"
fi
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

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storeplane-backup.XXXXXX")" ||
  fail "cannot make a private directory under ${TMPDIR:-/tmp}"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM

sha256_of() {
  sum="$(sha256sum <"$1")" || return 1
  printf '%s\n' "${sum%% *}"
}

manifest="$BACKUP_DIR/manifest"
if [ -f "$manifest" ] && ! grep -qxF "engine ${ENGINE}" "$manifest"; then
  fail "${manifest} belongs to another engine's backup: $(grep '^engine ' "$manifest" || true)"
fi

log "== database ${PGDATABASE} on ${PGHOST}:${PGPORT} as ${PGUSER}"
waited=0
until psql -X -q -t -c 'SELECT 1' >/dev/null 2>"$WORK/connect.err"; do
  [ "$waited" -lt "$WAIT_SECONDS" ] ||
    fail "the database did not answer within ${WAIT_SECONDS}s: $(cat "$WORK/connect.err")"
  sleep 2
  waited=$((waited + 2))
done
server="$(psql -X -q -t -A -c 'SHOW server_version')" || fail "reading the server's version"
log "database answers (PostgreSQL ${server}); $(pg_dump --version)"

started="$(date +%s)"
partial="$BACKUP_DIR/.database.pgdump.partial"
# pg_dump reads the whole database in one repeatable-read snapshot, so the
# running shop keeps taking orders and the dump is consistent.
pg_dump --format=custom --no-owner --no-acl --file="$partial" ||
  fail "pg_dump of ${PGDATABASE} failed (its error is above)"
# The archive's table of contents reads back: what restore.sh checks first.
pg_restore --list "$partial" >"$WORK/toc" || fail "the dump does not read back"
mv "$partial" "$BACKUP_DIR/database.pgdump"
log "dumped $(grep -c ' TABLE DATA ' "$WORK/toc" || true) tables in $(($(date +%s) - started))s"

sha="$(sha256_of "$BACKUP_DIR/database.pgdump")" || fail "cannot read database.pgdump back"
bytes="$(wc -c <"$BACKUP_DIR/database.pgdump" | tr -d ' ')"
printf 'format %s\nengine %s\ncreated %s\nfile database.pgdump %s %s %s\n' \
  "$FORMAT" "$ENGINE" "$(now)" "$sha" "$bytes" "$(now)" >"$manifest.new"
mv "$manifest.new" "$manifest"
log "database.pgdump: ${bytes} bytes, sha256 ${sha}"
log "done: the Medusa backup is in ${BACKUP_DIR}"
