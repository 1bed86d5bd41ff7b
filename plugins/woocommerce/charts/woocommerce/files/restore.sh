#!/bin/sh
# WooCommerce store restore, the mirror of backup.sh: a restore Job puts a
# backup's files into $BACKUP_DIR, then runs one container per part:
#
#   restore.sh db     in the mysql image: the store database becomes the
#                     dump (database.sql.gz)
#   restore.sh files  in the wordpress image, the WordPress volume mounted:
#                     wp-content becomes the archive (wp-content.tar.gz)
#
# Before it changes anything, every part checks the whole backup: the
# manifest is a storeplane WooCommerce one, and every file it lists is
# present with its sha256. A damaged backup, a partial download or another
# engine's backup is refused with the store untouched.
#
# Inputs (environment):
#   BACKUP_DIR             the directory holding the backup (required)
#   db:    WORDPRESS_DB_HOST (host[:port], port 3306 if absent),
#          WORDPRESS_DB_NAME, WORDPRESS_DB_USER, WORDPRESS_DB_PASSWORD:
#          the chart's woocommerce.databaseEnv, as WordPress reads them
#          WAIT_SECONDS        how long to wait for the database (default 300)
#          TMPDIR              a writable directory for the client's
#                              connection settings (default /tmp)
#   files: WP_CONTENT          the wp-content directory
#                              (default /var/www/html/wp-content)
#
# POSIX sh (dash, busybox ash, bash): the three images have different shells.
set -eu

FORMAT="storeplane-backup/1"
ENGINE="woocommerce"

log() { printf '[restore] %s\n' "$*"; }
fail() {
  printf '[restore] FAILED: %s\n' "$*" >&2
  exit 1
}

MODE="${1:-}"
case "$MODE" in
  db | files) ;;
  *) fail "usage: restore.sh db|files (got '${MODE}')" ;;
esac
: "${BACKUP_DIR:?BACKUP_DIR is not set}"
[ -d "$BACKUP_DIR" ] || fail "BACKUP_DIR ${BACKUP_DIR} is not a directory"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storeplane-restore.XXXXXX")" ||
  fail "cannot make a private directory under ${TMPDIR:-/tmp}"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM

sha256_of() {
  sum="$(sha256sum <"$1")" || return 1
  printf '%s\n' "${sum%% *}"
}

# Refuses the backup unless its manifest is a WooCommerce one of our
# format, every file it lists matches its sha256, and it lists $1.
verify() {
  wanted="$1"
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
    fail "this is a backup of a ${engine:-unknown} store, not a WooCommerce one: refusing to restore it"
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
    if [ "$name" = "$wanted" ]; then listed=yes; fi
  done <"$manifest"
  [ -n "$listed" ] || fail "the backup has no ${wanted}: refusing to restore it"
}

restore_db() {
  : "${WORDPRESS_DB_HOST:?}" "${WORDPRESS_DB_NAME:?}" "${WORDPRESS_DB_USER:?}" "${WORDPRESS_DB_PASSWORD:?}"
  WAIT_SECONDS="${WAIT_SECONDS:-300}"
  dump="$BACKUP_DIR/database.sql.gz"
  verify database.sql.gz
  gzip -t "$dump" 2>/dev/null || fail "database.sql.gz is not a readable gzip file; nothing was changed"

  db_host="${WORDPRESS_DB_HOST%%:*}"
  db_port="3306"
  case "$WORDPRESS_DB_HOST" in *:*) db_port="${WORDPRESS_DB_HOST#*:}" ;; esac
  # As in backup.sh: the password in a file only this user can read.
  cnf="$WORK/client.cnf"
  password="$(printf '%s' "$WORDPRESS_DB_PASSWORD" | sed 's/[\\"]/\\&/g')"
  (
    umask 077
    printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\ndefault-character-set=utf8mb4\n' \
      "$db_host" "$db_port" "$WORDPRESS_DB_USER" "$password" >"$cnf"
  )
  mysql_db() { mysql --defaults-extra-file="$cnf" --batch --raw --skip-column-names "$@" "$WORDPRESS_DB_NAME"; }

  log "== database ${WORDPRESS_DB_NAME} on ${db_host}:${db_port} as ${WORDPRESS_DB_USER}"
  waited=0
  until mysql_db --execute="SELECT 1" >/dev/null 2>"$WORK/connect.err"; do
    [ "$waited" -lt "$WAIT_SECONDS" ] ||
      fail "the database did not answer within ${WAIT_SECONDS}s: $(cat "$WORK/connect.err"); nothing was changed"
    sleep 2
    waited=$((waited + 2))
  done
  started="$(date +%s)"

  # The database must equal the dump afterwards, so everything in it goes
  # first: the dump's own DROP TABLE IF EXISTS only covers its tables, and a
  # table a plugin added after the backup would survive. MySQL's DDL is not
  # transactional, so unlike the Medusa restore this cannot be all or
  # nothing: a load that fails half-way leaves a partial database, and the
  # Job's retry (this script again) starts over from an empty one.
  log "== emptying ${WORDPRESS_DB_NAME}: its tables, views and routines"
  mysql_db >"$WORK/drop.sql" <<'SQL' || fail "listing the tables of the database"
SELECT CONCAT('DROP ', IF(TABLE_TYPE = 'VIEW', 'VIEW', 'TABLE'), ' IF EXISTS ',
              CHAR(96 USING utf8mb4),
              REPLACE(TABLE_NAME, CHAR(96 USING utf8mb4), REPEAT(CHAR(96 USING utf8mb4), 2)),
              CHAR(96 USING utf8mb4), ';')
  FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT CONCAT('DROP ', ROUTINE_TYPE, ' IF EXISTS ',
              CHAR(96 USING utf8mb4),
              REPLACE(ROUTINE_NAME, CHAR(96 USING utf8mb4), REPEAT(CHAR(96 USING utf8mb4), 2)),
              CHAR(96 USING utf8mb4), ';')
  FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE();
SQL
  log "dropping $(wc -l <"$WORK/drop.sql" | tr -d ' ') tables, views and routines"
  { printf 'SET FOREIGN_KEY_CHECKS = 0;\n' && cat "$WORK/drop.sql"; } | mysql_db ||
    fail "emptying the database"

  log "== loading database.sql.gz"
  # POSIX sh has no pipefail: a failed decompression is recorded in a file.
  {
    if ! gzip -dc "$dump"; then
      : >"$WORK/gunzip.failed"
    fi
  } | mysql_db || fail "loading the dump (mysql's error is above); run the restore again"
  [ ! -e "$WORK/gunzip.failed" ] || fail "decompressing database.sql.gz; run the restore again"
  tables="$(mysql_db --execute="SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")"
  log "restored ${tables} tables in $(($(date +%s) - started))s"
}

restore_files() {
  WP_CONTENT="${WP_CONTENT:-/var/www/html/wp-content}"
  archive="$BACKUP_DIR/wp-content.tar.gz"
  verify wp-content.tar.gz
  tar -tzf "$archive" >/dev/null || fail "wp-content.tar.gz is not a readable tar.gz; nothing was changed"
  started="$(date +%s)"
  log "== replacing the content of ${WP_CONTENT}"
  mkdir -p "$WP_CONTENT" || fail "cannot create ${WP_CONTENT}"
  # Every entry, dot files included, so that afterwards the directory holds
  # exactly what the archive holds.
  find "$WP_CONTENT/." ! -name . -prune -exec rm -rf {} + || fail "emptying ${WP_CONTENT}"
  tar -C "$WP_CONTENT" -xzf "$archive" || fail "extracting wp-content.tar.gz into ${WP_CONTENT}"
  log "restored $(find "$WP_CONTENT" -type f | wc -l | tr -d ' ') files in $(($(date +%s) - started))s"
}

case "$MODE" in
  db) restore_db ;;
  files) restore_files ;;
esac
log "done: ${MODE} part of the WooCommerce store restored from ${BACKUP_DIR}"
