#!/bin/sh
# Starts the Next.js storefront of a storeplane Medusa store.
#
# 1. Waits for the backend (GET /health).
# 2. Waits until the backend accepts the store's publishable key and has a
#    region: the init Job has migrated, seeded and written the key.
# 3. Builds the storefront with this store's NEXT_PUBLIC_* values (Next.js
#    inlines them at build time), once per container.
# 4. Serves it on port 8000.
#
# Environment (set by the chart):
#   MEDUSA_BACKEND_URL          backend inside the cluster, e.g. http://shop-backend:9000
#   PUBLISHABLE_KEY_SECRET      from the store's Secret; the key is pk_<value>
#   NEXT_PUBLIC_BASE_URL        the public store URL
#   NEXT_PUBLIC_DEFAULT_REGION  ISO country code of the seeded region (de, us, in)
set -eu

: "${MEDUSA_BACKEND_URL:?}" "${PUBLISHABLE_KEY_SECRET:?}"
: "${NEXT_PUBLIC_BASE_URL:?}" "${NEXT_PUBLIC_DEFAULT_REGION:?}"
NEXT_PUBLIC_MEDUSA_PUBLISHABLE_KEY="pk_${PUBLISHABLE_KEY_SECRET}"
export NEXT_PUBLIC_MEDUSA_PUBLISHABLE_KEY
unset PUBLISHABLE_KEY_SECRET
# Newer starters read the backend URL from this name; server-side calls
# must stay inside the cluster either way.
NEXT_PUBLIC_MEDUSA_BACKEND_URL="${NEXT_PUBLIC_MEDUSA_BACKEND_URL:-$MEDUSA_BACKEND_URL}"
export NEXT_PUBLIC_MEDUSA_BACKEND_URL

log() { printf '[storefront] %s\n' "$*"; }

backend_healthy() {
  node -e '
    fetch(process.env.MEDUSA_BACKEND_URL + "/health")
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))'
}

key_accepted() {
  node -e '
    fetch(process.env.MEDUSA_BACKEND_URL + "/store/regions", {
      headers: { "x-publishable-api-key": process.env.NEXT_PUBLIC_MEDUSA_PUBLISHABLE_KEY },
    })
      .then(async (r) => {
        const body = r.ok ? await r.json() : {}
        process.exit(Array.isArray(body.regions) && body.regions.length > 0 ? 0 : 1)
      }, () => process.exit(1))'
}

wait_for() {
  what="$1"
  shift
  said=""
  until "$@"; do
    if [ -z "$said" ]; then
      log "waiting for ${what}"
      said=1
    fi
    sleep 5
  done
  log "${what}: ok"
}

wait_for "the backend at ${MEDUSA_BACKEND_URL}" backend_healthy
wait_for "the store's publishable key and region (init Job)" key_accepted

stamp="$(printf '%s|%s|%s|%s' "$NEXT_PUBLIC_MEDUSA_PUBLISHABLE_KEY" "$NEXT_PUBLIC_BASE_URL" \
  "$NEXT_PUBLIC_DEFAULT_REGION" "$MEDUSA_BACKEND_URL" | sha256sum | cut -d' ' -f1)"
if [ -f .next/BUILD_ID ] && [ "$(cat .next/storeplane-build 2>/dev/null || true)" = "$stamp" ]; then
  log "build for these settings exists"
else
  log "building the storefront (next build)"
  npx --no-install next build
  printf '%s\n' "$stamp" >.next/storeplane-build
fi

log "serving on port 8000"
exec npx --no-install next start -H 0.0.0.0 -p 8000
