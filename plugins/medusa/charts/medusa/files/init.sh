#!/bin/sh
# Medusa store initialisation, run by the chart's init Job in the backend
# image (working directory /app = the built Medusa server).
#
# Every step is idempotent, so the Job can be retried and re-run after a
# configuration change or an upgrade: migrations apply only what is
# missing, the admin user is created only if absent, the seed runs once
# (guarded by rows in the storeplane_setup table) and the publishable key
# converges on the store's Secret. The platform reports the store Ready only
# after this script exits 0.
#
# Inputs (environment): DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD,
# REDIS_HOST, REDIS_PORT, ADMIN_EMAIL, ADMIN_PASSWORD, REGION_NAME,
# REGION_CURRENCY, REGION_COUNTRIES, SEED_DEMO_DATA, PUBLISHABLE_KEY_SECRET,
# MEDUSA_VERSION (set by the image), plus what medusa-config.ts reads.
set -eu

: "${DB_HOST:?}" "${DB_PASSWORD:?}" "${REDIS_HOST:?}" "${ADMIN_EMAIL:?}" "${ADMIN_PASSWORD:?}"
: "${REGION_NAME:?}" "${REGION_CURRENCY:?}" "${REGION_COUNTRIES:?}" "${PUBLISHABLE_KEY_SECRET:?}"
: "${MEDUSA_VERSION:?}" "${SEED_DEMO_DATA:=true}"
WAIT_SECONDS="${WAIT_SECONDS:-600}"
PUBLISHABLE_KEY="pk_${PUBLISHABLE_KEY_SECRET}"
export PUBLISHABLE_KEY SEED_DEMO_DATA

cd "${MEDUSA_DIR:-/app}"

STEP="start"
log() { printf '[init] %s\n' "$*"; }
step() { STEP="$1"; log "== $1"; }
fail() { log "FAILED during step: ${STEP}: $*"; exit 1; }
medusa() { npx --no-install medusa "$@"; }

# Tenant input (ADMIN_EMAIL; the region values come from a checked enum but
# are treated the same) never stands as an argument of its own, where a
# command-line parser could read a value such as `--invite` or `-p=x` as an
# option: programs read it from the environment (storeplane/db.mjs and the
# seed scripts use process.env), or it is glued to the option it is the
# value of (`--email="$ADMIN_EMAIL"`), which the parser splits at the first
# `=`.

wait_for() {
  what="$1"
  shift
  waited=0
  until "$@" >/dev/null 2>&1; do
    [ "$waited" -lt "$WAIT_SECONDS" ] || fail "gave up waiting for ${what} after ${WAIT_SECONDS}s"
    sleep 5
    waited=$((waited + 5))
  done
  log "${what}: ok"
}

redis_reachable() {
  node -e '
    const socket = require("net").connect(Number(process.env.REDIS_PORT || 6379), process.env.REDIS_HOST)
    socket.on("connect", () => process.exit(0)).on("error", () => process.exit(1))
    setTimeout(() => process.exit(1), 3000)'
}

step "wait for PostgreSQL and Redis"
wait_for "PostgreSQL" node storeplane/db.mjs ping
wait_for "Redis" redis_reachable

step "migrations (medusa db:migrate)"
# Safe link changes only: removing links needs an operator, not a Job.
medusa db:migrate --execute-safe-links || fail "medusa db:migrate"
# The backend's init container waits for this row before Medusa starts.
node storeplane/db.mjs mark-migrated "$MEDUSA_VERSION" || fail "recording the migration"

step "admin user ${ADMIN_EMAIL}"
# db.mjs reads the address from ADMIN_EMAIL.
state="$(node storeplane/db.mjs admin-state)" || fail "reading users"
case "$state" in
  complete)
    log "admin user exists" ;;
  partial)
    # A previous run died between creating the user and its login.
    log "admin user incomplete; recreating it"
    node storeplane/db.mjs drop-orphan-admin || fail "cleaning the incomplete admin"
    medusa user --email="$ADMIN_EMAIL" --password="$ADMIN_PASSWORD" || fail "medusa user" ;;
  absent)
    medusa user --email="$ADMIN_EMAIL" --password="$ADMIN_PASSWORD" || fail "medusa user" ;;
  *)
    fail "unexpected admin state: ${state}" ;;
esac

step "seed (once): region ${REGION_NAME}, demo products: ${SEED_DEMO_DATA}"
medusa exec ./src/scripts/storeplane-seed.js || fail "seed script"

step "publishable API key for the storefront"
medusa exec ./src/scripts/storeplane-publishable-key.js || fail "publishable key script"

log "done: Medusa ${MEDUSA_VERSION} migrated, admin ${ADMIN_EMAIL}, region ${REGION_NAME} seeded, storefront key set"
