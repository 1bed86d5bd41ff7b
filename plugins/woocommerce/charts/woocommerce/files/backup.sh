#!/bin/sh
# WooCommerce store backup, run by a backup Job's containers, one per part,
# into the same $BACKUP_DIR (an emptyDir a later container uploads):
#
#   backup.sh db     in the mysql image: mysqldump of the store database
#                    into database.sql.gz
#   backup.sh files  in the wordpress image, the WordPress volume mounted:
#                    a tar of wp-content (uploads, plugins, themes) into
#                    wp-content.tar.gz
#
# Each part adds its file to $BACKUP_DIR/manifest with its sha256, and
# restore.sh refuses a backup whose files do not match it (damaged in
# transit or storage) or whose engine is not WooCommerce. The manifest is
# plain text, one record a line:
#
#   format storeplane-backup/1
#   engine woocommerce
#   created <UTC time of the first part>
#   file <name> <sha256> <bytes> <UTC time it was written>
#
# Inputs (environment):
#   BACKUP_DIR             the directory to write into (required)
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

log() { printf '[backup] %s\n' "$*"; }
fail() {
  printf '[backup] FAILED: %s\n' "$*" >&2
  exit 1
}
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

MODE="${1:-}"
case "$MODE" in
  db | files) ;;
  *) fail "usage: backup.sh db|files (got '${MODE}')" ;;
esac
: "${BACKUP_DIR:?BACKUP_DIR is not set}"
if [ ! -d "$BACKUP_DIR" ] || [ ! -w "$BACKUP_DIR" ]; then
  fail "BACKUP_DIR ${BACKUP_DIR} is not a writable directory"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storeplane-backup.XXXXXX")" ||
  fail "cannot make a private directory under ${TMPDIR:-/tmp}"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM

sha256_of() {
  sum="$(sha256sum <"$1")" || return 1
  printf '%s\n' "${sum%% *}"
}

# Adds (or replaces) the record of $1 in the manifest. A manifest another
# engine's backup left in $BACKUP_DIR is refused, not merged.
record() {
  name="$1"
  manifest="$BACKUP_DIR/manifest"
  sha="$(sha256_of "$BACKUP_DIR/$name")" || fail "cannot read ${name} back"
  bytes="$(wc -c <"$BACKUP_DIR/$name" | tr -d ' ')"
  if [ -f "$manifest" ]; then
    grep -qxF "format ${FORMAT}" "$manifest" ||
      fail "${manifest} is not a ${FORMAT} manifest: BACKUP_DIR holds something else"
    grep -qxF "engine ${ENGINE}" "$manifest" ||
      fail "${manifest} belongs to another engine's backup: $(grep '^engine ' "$manifest" || true)"
    while IFS= read -r line; do
      case "$line" in
        "file ${name} "*) ;;
        *) printf '%s\n' "$line" ;;
      esac
    done <"$manifest" >"$manifest.new"
  else
    printf 'format %s\nengine %s\ncreated %s\n' "$FORMAT" "$ENGINE" "$(now)" >"$manifest.new"
  fi
  printf 'file %s %s %s %s\n' "$name" "$sha" "$bytes" "$(now)" >>"$manifest.new"
  mv "$manifest.new" "$manifest"
  log "${name}: ${bytes} bytes, sha256 ${sha}"
}

backup_db() {
  : "${WORDPRESS_DB_HOST:?}" "${WORDPRESS_DB_NAME:?}" "${WORDPRESS_DB_USER:?}" "${WORDPRESS_DB_PASSWORD:?}"
  WAIT_SECONDS="${WAIT_SECONDS:-300}"
  db_host="${WORDPRESS_DB_HOST%%:*}"
  db_port="3306"
  case "$WORDPRESS_DB_HOST" in *:*) db_port="${WORDPRESS_DB_HOST#*:}" ;; esac

  # The connection settings, password included, in a file only this user
  # can read: on a command line the password would show in the process
  # list, and MySQL 8 deprecates MYSQL_PWD. Inside double quotes an option
  # file reads \\ and \" as escapes.
  cnf="$WORK/client.cnf"
  password="$(printf '%s' "$WORDPRESS_DB_PASSWORD" | sed 's/[\\"]/\\&/g')"
  (
    umask 077
    printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\n' \
      "$db_host" "$db_port" "$WORDPRESS_DB_USER" "$password" >"$cnf"
  )

  log "== database ${WORDPRESS_DB_NAME} on ${db_host}:${db_port} as ${WORDPRESS_DB_USER}"
  waited=0
  until mysql --defaults-extra-file="$cnf" --batch --execute="SELECT 1" "$WORDPRESS_DB_NAME" \
    >/dev/null 2>"$WORK/connect.err"; do
    [ "$waited" -lt "$WAIT_SECONDS" ] ||
      fail "the database did not answer within ${WAIT_SECONDS}s: $(cat "$WORK/connect.err")"
    sleep 2
    waited=$((waited + 2))
  done
  log "database answers; $(mysqldump --version)"

  # --single-transaction: a consistent snapshot of InnoDB tables without
  # locking the running shop. --no-tablespaces: MySQL 8 needs the PROCESS
  # privilege to dump tablespaces, which the store's user does not have.
  # --hex-blob keeps binary columns intact through any client charset.
  # Every flag here is accepted by MySQL 8's and MariaDB's mysqldump. No
  # --databases: the dump has no CREATE DATABASE or USE, so restore.sh loads
  # it into whatever database it is pointed at.
  started="$(date +%s)"
  partial="$BACKUP_DIR/.database.sql.gz.partial"
  # POSIX sh has no pipefail: the dump's success is recorded in a file.
  {
    if mysqldump --defaults-extra-file="$cnf" \
      --single-transaction --quick --routines --triggers --hex-blob \
      --default-character-set=utf8mb4 --no-tablespaces \
      "$WORDPRESS_DB_NAME"; then
      : >"$WORK/dump.ok"
    fi
  } | gzip -c >"$partial" || fail "compressing the dump"
  [ -e "$WORK/dump.ok" ] || fail "mysqldump of ${WORDPRESS_DB_NAME} failed (its error is above)"
  mv "$partial" "$BACKUP_DIR/database.sql.gz"
  log "dumped in $(($(date +%s) - started))s"
  record database.sql.gz
}

backup_files() {
  WP_CONTENT="${WP_CONTENT:-/var/www/html/wp-content}"
  [ -d "$WP_CONTENT" ] || fail "WP_CONTENT ${WP_CONTENT} is not a directory"
  log "== files: ${WP_CONTENT}"
  started="$(date +%s)"
  partial="$BACKUP_DIR/.wp-content.tar.gz.partial"
  # GNU tar exits 1 when a file changed while it was read (a cache file of
  # the running shop): the archive is complete, so that is a warning only.
  status=0
  tar -C "$WP_CONTENT" -czf "$partial" . || status=$?
  case "$status" in
    0) ;;
    1) log "warning: some files changed while they were archived (a live shop); the archive is complete" ;;
    *) fail "tar of ${WP_CONTENT} failed (exit ${status})" ;;
  esac
  mv "$partial" "$BACKUP_DIR/wp-content.tar.gz"
  log "archived $(find "$WP_CONTENT" -type f | wc -l | tr -d ' ') files in $(($(date +%s) - started))s"
  record wp-content.tar.gz
}

case "$MODE" in
  db) backup_db ;;
  files) backup_files ;;
esac
log "done: ${MODE} part of the WooCommerce backup is in ${BACKUP_DIR}"
