#!/bin/sh
# After a restore, in the wordpress:cli image with the WordPress volume
# mounted: makes the restored shop this store's. The backup may come from
# another store, served at another address and with another generated admin
# password; the restored database still has those.
#
#   1. The old address (the restored `home` option) becomes this store's
#      everywhere in the database (`wp search-replace`, which rewrites
#      serialized PHP values correctly), also in its JSON-escaped form
#      (https:\/\/...) that blocks and WooCommerce settings use. GUIDs stay:
#      they are identifiers, not links.
#   2. The administrator's password becomes the one in this store's admin
#      Secret (what the dashboard shows), read from stdin, never an argument.
#
# Restoring a store's own backup changes no address, and sets the password
# it already has. Idempotent.
#
# Inputs (environment): STORE_URL, ADMIN_USER, ADMIN_PASSWORD, WP_PATH
# (default /var/www/html), the WORDPRESS_DB_* settings wp-config.php reads.
set -eu

log() { printf '[after-restore] %s\n' "$*"; }
fail() {
  printf '[after-restore] FAILED: %s\n' "$*" >&2
  exit 1
}
: "${STORE_URL:?}" "${ADMIN_USER:?}" "${ADMIN_PASSWORD:?}"
WP_PATH="${WP_PATH:-/var/www/html}"
# Plugins and themes stay unloaded: their hooks have no business here.
wp_() { wp --path="$WP_PATH" --skip-plugins --skip-themes "$@"; }

# Checked first: a restore that cannot give the admin this store's
# password changes nothing else either.
wp_ user get "$ADMIN_USER" --field=ID >/dev/null ||
  fail "the restored shop has no user ${ADMIN_USER}"
old="$(wp_ option get home)" || fail "reading the restored home option"
old="${old%/}"
if [ "$old" = "$STORE_URL" ]; then
  log "the shop's address is already ${STORE_URL}"
else
  log "== address ${old} -> ${STORE_URL}"
  wp_ search-replace "$old" "$STORE_URL" --all-tables --skip-columns=guid --report-changed-only ||
    fail "replacing ${old} with ${STORE_URL}"
  old_json="$(printf '%s' "$old" | sed 's#/#\\/#g')"
  new_json="$(printf '%s' "$STORE_URL" | sed 's#/#\\/#g')"
  wp_ search-replace "$old_json" "$new_json" --all-tables --skip-columns=guid --report-changed-only ||
    fail "replacing the JSON-escaped address"
fi
wp_ option update home "$STORE_URL" >/dev/null || fail "setting home"
wp_ option update siteurl "$STORE_URL" >/dev/null || fail "setting siteurl"

log "== administrator ${ADMIN_USER}: this store's password"
printf '%s\n' "$ADMIN_PASSWORD" | wp_ user update "$ADMIN_USER" --prompt=user_pass --skip-email >/dev/null ||
  fail "setting the password of ${ADMIN_USER}"
wp_ cache flush >/dev/null 2>&1 || true
log "done: the shop answers at ${STORE_URL}, ${ADMIN_USER} logs in with this store's password"
