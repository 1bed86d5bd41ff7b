#!/usr/bin/env bash
# WooCommerce store setup, run by the chart's setup Job (wordpress:cli image,
# uid 33, WordPress volume at $WP_PATH).
#
# Every step checks before it changes anything, so the script converges: a
# retry after a failure, a re-run after a configuration change or an upgrade
# all end in the same state. The platform reports the store Ready only after
# this script exits 0, so at that point the shop can take an order.
#
# Inputs (environment): STORE_URL, STORE_TITLE, STORE_CURRENCY,
# STORE_BASE_LOCATION, SAMPLE_PRODUCTS, ADMIN_USER, ADMIN_EMAIL,
# ADMIN_PASSWORD, WOOCOMMERCE_VERSION, STOREFRONT_VERSION, WP_PATH and
# WORDPRESS_DB_{HOST,NAME,USER,PASSWORD} (read by wp-config.php).
set -Eeuo pipefail

: "${STORE_URL:?}" "${STORE_TITLE:?}" "${STORE_CURRENCY:?}" "${STORE_BASE_LOCATION:?}"
: "${SAMPLE_PRODUCTS:?}" "${ADMIN_USER:?}" "${ADMIN_EMAIL:?}" "${ADMIN_PASSWORD:?}"
: "${WOOCOMMERCE_VERSION:?}" "${STOREFRONT_VERSION:?}" "${WP_PATH:=/var/www/html}"

# How long to wait for WordPress's files and for MySQL before giving up.
WAIT_SECONDS="${WAIT_SECONDS:-900}"
STEP="start"

log() { printf '[setup] %s\n' "$*"; }
step() { STEP="$1"; log "== $1"; }
trap 'log "FAILED during step: ${STEP}"' ERR

# WP-CLI with enough memory for WooCommerce's installer.
wp() { php -d memory_limit=512M /usr/local/bin/wp --path="$WP_PATH" --no-color "$@"; }
# WooCommerce's REST-backed commands act as the administrator.
woo() { wp wc "$@" --user="$ADMIN_USER"; }

# Tenant input never becomes a WP-CLI argument of its own: WP-CLI reads any
# argument of the form --name=value as a flag wherever it stands, and a
# store title of `--exec=<php>` would run PHP (`--require=`, `--url=` and
# `--user=` likewise). So values reach WordPress in one of two ways only:
# - read inside PHP from the environment (`getenv`), below;
# - glued to the flag they are the value of (`--title="$STORE_TITLE"`),
#   which WP-CLI splits at the first `=`, so the value is never a flag.
# Tenant-derived here: STORE_TITLE, ADMIN_EMAIL (the store configuration),
# STORE_URL (from the store name), STORE_CURRENCY and STORE_BASE_LOCATION
# (from a checked enum, treated the same way regardless).

# Sets WordPress option $1 to the value of environment variable $2, read
# inside PHP. Both names are literals of this script.
option_from_env() {
  wp eval "update_option('$1', getenv('$2'));"
}

wait_for() {
  local what="$1"; shift
  local waited=0
  until "$@" >/dev/null 2>&1; do
    if (( waited >= WAIT_SECONDS )); then
      log "gave up waiting for ${what} after ${WAIT_SECONDS}s"
      return 1
    fi
    sleep 5
    waited=$(( waited + 5 ))
  done
  log "${what}: ok"
}

wordpress_files_present() {
  [[ -f "$WP_PATH/wp-config.php" && -f "$WP_PATH/wp-includes/version.php" ]]
}

database_reachable() {
  # shellcheck disable=SC2016 # PHP code: its $variables are PHP's.
  php -r '
    mysqli_report(MYSQLI_REPORT_OFF);
    [$host, $port] = array_pad(explode(":", getenv("WORDPRESS_DB_HOST"), 2), 2, "3306");
    $db = @new mysqli($host, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"),
                      getenv("WORDPRESS_DB_NAME"), (int) $port);
    exit($db->connect_errno ? 1 : 0);'
}

step "wait for WordPress files (copied onto the volume by the WordPress container)"
wait_for "WordPress files" wordpress_files_present

step "wait for the database"
wait_for "MySQL" database_reachable

step "install WordPress core"
if wp core is-installed; then
  log "already installed"
else
  # --prompt reads the password from stdin: it never appears in a process
  # list. Values are glued to their flags (see above); the title and e-mail
  # are set again from the environment in the next step.
  printf '%s\n' "$ADMIN_PASSWORD" | wp core install \
    --url="$STORE_URL" --title="$STORE_TITLE" \
    --admin_user="$ADMIN_USER" --admin_email="$ADMIN_EMAIL" \
    --skip-email --prompt=admin_password
fi

step "site address, title and administrator"
# Converge on the current values (the host or TLS may have changed).
option_from_env home STORE_URL
option_from_env siteurl STORE_URL
option_from_env blogname STORE_TITLE
option_from_env admin_email ADMIN_EMAIL
# The administrator's e-mail and password, read inside PHP as well (the
# password was never on a command line either). No notification e-mails,
# as with --skip-email.
# shellcheck disable=SC2016 # PHP code: its $variables are PHP's.
wp eval '
  $user = get_user_by("login", getenv("ADMIN_USER"));
  if (!$user) { fwrite(STDERR, "administrator not found\n"); exit(1); }
  add_filter("send_email_change_email", "__return_false");
  add_filter("send_password_change_email", "__return_false");
  $result = wp_update_user([
    "ID" => $user->ID,
    "user_email" => getenv("ADMIN_EMAIL"),
    "user_pass" => getenv("ADMIN_PASSWORD"),
  ]);
  if (is_wp_error($result)) { fwrite(STDERR, $result->get_error_message() . "\n"); exit(1); }'

step "permalinks (/%postname%/)"
wp rewrite structure '/%postname%/'
wp rewrite flush

step "WooCommerce ${WOOCOMMERCE_VERSION}"
if [[ "$(wp plugin get woocommerce --field=version 2>/dev/null || true)" != "$WOOCOMMERCE_VERSION" ]]; then
  wp plugin install woocommerce --version="$WOOCOMMERCE_VERSION" --force
fi
wp plugin is-active woocommerce || wp plugin activate woocommerce
# Database migrations of the installed version (no-op when current).
woo update

step "Storefront theme ${STOREFRONT_VERSION}"
if [[ "$(wp theme get storefront --field=version 2>/dev/null || true)" != "$STOREFRONT_VERSION" ]]; then
  wp theme install storefront --version="$STOREFRONT_VERSION" --force
fi
wp theme is-active storefront || wp theme activate storefront

step "shop pages (Shop, Cart, Checkout, My account)"
# Creates only the pages that are missing.
woo tool run install_pages

step "store settings: live, onboarding skipped, currency ${STORE_CURRENCY}"
wp option update woocommerce_coming_soon no
wp option update woocommerce_store_pages_only no
wp option update woocommerce_onboarding_profile '{"skipped":true}' --format=json
wp option update woocommerce_task_list_hidden yes
wp option update woocommerce_extended_task_list_hidden yes
wp option update woocommerce_show_marketplace_suggestions no
wp option update woocommerce_allow_tracking no
option_from_env woocommerce_currency STORE_CURRENCY
option_from_env woocommerce_default_country STORE_BASE_LOCATION
wp option update woocommerce_allowed_countries all
wp option update woocommerce_ship_to_countries ''
wp option update woocommerce_calc_taxes no
wp option update woocommerce_enable_guest_checkout yes
if [[ "$STORE_CURRENCY" == "JPY" ]]; then
  wp option update woocommerce_price_num_decimals 0
else
  wp option update woocommerce_price_num_decimals 2
fi

step "payments: Cash on Delivery"
woo payment_gateway update cod --enabled=true

step "shipping: free shipping everywhere"
# Zone 0 is "locations not covered by your other zones", i.e. everywhere.
zone_methods="$(woo shipping_zone_method list 0 --field=method_id)"
if grep -qx free_shipping <<<"$zone_methods"; then
  log "free shipping already offered"
else
  woo shipping_zone_method create 0 --method_id=free_shipping --enabled=true
fi

step "sample products (${SAMPLE_PRODUCTS})"
names=("Classic T-Shirt" "Coffee Mug" "Canvas Tote Bag" "Wool Beanie" "Notebook"
       "Water Bottle" "Hoodie" "Sticker Pack" "Desk Plant" "Travel Pillow")
case "$STORE_CURRENCY" in
  JPY) price_scale=100 ;;
  INR) price_scale=80 ;;
  *) price_scale=1 ;;
esac
# shellcheck disable=SC2016 # PHP code: its $variables are PHP's.
existing_skus="$(wp eval '
  foreach (wc_get_products(["limit" => -1, "status" => "any"]) as $product) {
    echo $product->get_sku(), "\n";
  }')"
for (( i = 1; i <= SAMPLE_PRODUCTS; i++ )); do
  sku="storeplane-sample-${i}"
  if grep -qx -- "$sku" <<<"$existing_skus"; then
    continue
  fi
  name="${names[$(( (i - 1) % ${#names[@]} ))]}"
  if (( i > ${#names[@]} )); then
    name="${name} #$(( (i - 1) / ${#names[@]} + 1 ))"
  fi
  price="$(( (9 + (i * 7) % 41) * price_scale ))"
  woo product create --name="$name" --sku="$sku" --type=simple --status=publish \
    --regular_price="$price" --catalog_visibility=visible \
    --short_description="A sample product, ready to order." --porcelain
  log "created ${sku}: ${name} (${price} ${STORE_CURRENCY})"
done

step "check: the shop is open"
[[ "$(wp option get woocommerce_coming_soon)" == "no" ]]
[[ "$(wp option get woocommerce_currency)" == "$STORE_CURRENCY" ]]
wp plugin is-active woocommerce

log "done: ${STORE_URL}/ is open for orders (admin: ${STORE_URL}/wp-admin/, user ${ADMIN_USER})"
