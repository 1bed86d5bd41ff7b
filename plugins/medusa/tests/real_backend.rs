//! The Medusa engine for real: the backend image's Dockerfile carried out
//! natively (`npm ci`, `medusa build`, the production install), the chart
//! rendered with the values the engine sends when it provisions, and then
//! what the store's Pods would run, with the environment the render gives
//! them, against a real PostgreSQL and Redis on loopback:
//!
//! 1. the init Job's script (from the rendered ConfigMap) on an empty
//!    database; the backend's `wait-for-migrations` init container; the
//!    image's `CMD` (`medusa start`) with the Deployment's environment;
//! 2. the Deployment's probes, and the store API with the publishable key
//!    the init Job wrote (the engine's `observe` waits for exactly these);
//! 3. an order through the store API a storefront uses, seen with its total
//!    in the admin API with the generated admin credentials;
//! 4. the init Job run again (as a retry or an upgrade would): row counts
//!    unchanged;
//! 5. the chart's `files/backup.sh` on the store database, the store
//!    changed behind it (a product deleted through the admin API, every
//!    order gone, a table added), `files/restore.sh`: every table's rows as
//!    at the backup, the order and the product back in the running
//!    backend's APIs; then the database dropped and recreated empty,
//!    restored, and the backend started again on it;
//! 6. a clone, as the platform makes one from that backup: a store of the
//!    same configuration with Secrets, a database and a Redis of its own;
//!    the engine's restore Job (`restore.sh`, then `after-restore.sh`) on
//!    its empty database, the init Job run again with the clone's Secrets,
//!    the backend started: the admin logs in with the clone's password
//!    only, the storefront works with the clone's publishable key only, the
//!    order and the backup's rows are there;
//! 7. on a fresh database an init killed in the middle of the seed and run
//!    again converges to the same rows.
//!
//! A failure names the step. Needs what `cargo xtask test` provides: the
//! tests' PostgreSQL server (`STOREPLANE_TEST_PG`), `redis-server`, `psql`,
//! Node and npm. The build is cached under `target/medusa` (see
//! `support/native_image.rs`): a warm run does not reinstall.

#![allow(
    clippy::print_stderr,
    reason = "the test reports its measurements (order, totals, row counts, timings)"
)]

mod support {
    pub mod backup;
    /// The `.dockerignore` reader of the e2e tests' image check.
    #[path = "../../../../tests/src/dockerignore.rs"]
    pub mod dockerignore;
    pub mod native_image;
    pub mod stack;
}

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use storeplane_chart::{Chart, RenderOptions};
use storeplane_plugin_medusa::{Medusa, Names};
use storeplane_plugin_sdk::Archive;
use storeplane_plugin_sdk::testing::{FakeHost, Harness, store_context};
use support::backup::{self, TableState};
use support::native_image::{self, NativeImage};
use support::stack::{self, Process, Release, free_port, psql, route, run_job, wait_until};

const PLUGIN_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(PLUGIN_DIR).join("../../target"))
        .join("medusa")
}

/// The store's configuration; a clone made from its backup has the same.
fn config() -> Value {
    json!({"admin_email": "owner@example.com", "region": "eu", "seed_demo_data": true})
}

/// A store's values and generated Secrets, from the engine's own provision.
/// Each call generates new Secrets, as the platform does for a new store.
fn provision() -> Result<(Release, Names, Value)> {
    let host = FakeHost::for_engine::<Medusa>().with_charts(&["medusa"]);
    let context = store_context(config());
    Harness::<Medusa>::new()
        .provision(&host, &context)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let release = context.name.as_str().to_owned();
    let values = host
        .release_values(&release)
        .context("the engine installed no release")?;
    let mut secrets = BTreeMap::new();
    for summary in host.call_summaries() {
        if let Some(name) = summary.strip_prefix("secrets.ensure-secret ") {
            let keys = host.secret_keys(name).unwrap_or_default();
            secrets.insert(
                name.to_owned(),
                keys.into_iter().map(|k| (k, random_value())).collect(),
            );
        }
    }
    let chart = Chart::load(format!("{PLUGIN_DIR}/charts/medusa"))?;
    let rendered = chart.render(&RenderOptions {
        release_name: release.clone(),
        namespace: context.namespace.as_str().to_owned(),
        values: values.clone(),
        ..RenderOptions::default()
    })?;
    let objects = rendered.manifests.into_iter().map(|m| m.object).collect();
    Ok((Release { objects, secrets }, Names::new(&release), values))
}

/// The restore Job the engine applies for a store of [`config`], with the
/// ConfigMap of scripts it mounts: its name and the objects.
fn restore_job() -> Result<(String, Vec<Value>)> {
    let host = FakeHost::for_engine::<Medusa>().with_charts(&["medusa"]);
    let archive = Archive {
        id: "7f3a9c01-5d2e-4b6f-8a90-123456789abc".into(),
        secret: "test-shop-archive-7f3a9c01".into(),
        transfer_image: "curlimages/curl:8.11.1".into(),
    };
    Harness::<Medusa>::new()
        .restore(&host, &store_context(config()), &archive)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let jobs = host.objects_of("Job");
    let job = jobs
        .iter()
        .find(|j| j["metadata"]["labels"]["app.kubernetes.io/component"] == "restore")
        .context("the engine applied no restore Job")?;
    let name = str_at(job, "/metadata/name")?.to_owned();
    Ok((
        name,
        jobs.into_iter()
            .chain(host.objects_of("ConfigMap"))
            .collect(),
    ))
}

/// 32 characters of the platform's alphabet, as its Secret generator makes.
fn random_value() -> String {
    use std::hash::{BuildHasher as _, RandomState};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let state = RandomState::new();
    (0..32u64)
        .map(|i| ALPHABET[(state.hash_one(i) % 62) as usize] as char)
        .collect()
}

/// A Job's container, ready to run: its command with the ConfigMap volumes
/// written out under `run_dir`, its environment.
struct JobContainer {
    argv: Vec<String>,
    env: BTreeMap<String, String>,
}

/// The init Job's container, its environment over the image's.
fn init_job(
    release: &Release,
    job_name: &str,
    image: &NativeImage,
    run_dir: &Path,
) -> Result<JobContainer> {
    let mut job = job_container(release, job_name, "init", run_dir)?;
    let mut env = image.env.clone();
    env.append(&mut job.env);
    // The image's WORKDIR (/app), where init.sh changes to, on this machine.
    env.insert("MEDUSA_DIR".into(), image.workdir.display().to_string());
    job.env = env;
    Ok(job)
}

/// Container `name` of Job `job_name`, with only the environment the Job
/// gives it.
fn job_container(
    release: &Release,
    job_name: &str,
    name: &str,
    run_dir: &Path,
) -> Result<JobContainer> {
    let job = release.find("Job", job_name)?;
    let container = release.container(job, name)?;
    let mut argv: Vec<String> = container["command"]
        .as_array()
        .with_context(|| format!("container {name} of Job {job_name} has no command"))?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    // ConfigMap volumes become directories here; paths into them follow.
    let volumes = job["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let Some(volume) = volumes.iter().find(|v| v["name"] == mount["name"]) else {
            bail!("volumeMount {} has no volume", mount["name"]);
        };
        let Some(config_map) = volume.pointer("/configMap/name").and_then(Value::as_str) else {
            continue;
        };
        let data = release.find("ConfigMap", config_map)?["data"]
            .as_object()
            .context("a ConfigMap without data")?;
        let dir = run_dir.join(config_map);
        fs::create_dir_all(&dir)?;
        for (file, content) in data {
            fs::write(dir.join(file), content.as_str().unwrap_or_default())?;
        }
        let mount_path = mount["mountPath"].as_str().unwrap_or_default();
        for arg in &mut argv {
            if let Some(rest) = arg.strip_prefix(mount_path) {
                *arg = format!("{}{rest}", dir.display());
            }
        }
    }
    Ok(JobContainer {
        argv,
        env: release.env(container)?,
    })
}

/// Redis as the chart's Deployment runs it, on a loopback port: the process
/// and its port.
fn start_redis(release: &Release, names: &Names, dir: &Path) -> Result<(Process, u16)> {
    let port = free_port()?;
    let container = release.container(release.find("Deployment", &names.redis)?, "redis")?;
    let mut argv: Vec<String> = container["command"]
        .as_array()
        .context("the Redis container has no command")?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    if let Some(script) = argv.last_mut() {
        script.push_str(&format!(" --port {port} --bind 127.0.0.1"));
    }
    let mut process = Process::start(
        "redis-server",
        &argv,
        dir,
        &release.env(container)?,
        &dir.join("redis.log"),
    )
    .context("starting Redis (is redis-server installed?)")?;
    wait_until("Redis to listen", Duration::from_secs(20), || {
        process.alive()?;
        Ok(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
    })?;
    Ok((process, port))
}

/// Row counts of what the init Job creates (and of orders), soft-deleted
/// rows excluded.
fn row_counts(url: &str) -> Result<BTreeMap<String, i64>> {
    const TABLES: [(&str, &str); 15] = [
        ("users", "\"user\""),
        ("login identities", "provider_identity"),
        ("regions", "region"),
        ("products", "product"),
        ("variants", "product_variant"),
        ("categories", "product_category"),
        ("sales channels", "sales_channel"),
        ("api keys", "api_key"),
        ("shipping options", "shipping_option"),
        ("shipping profiles", "shipping_profile"),
        ("stock locations", "stock_location"),
        ("fulfillment sets", "fulfillment_set"),
        ("tax regions", "tax_region"),
        ("stores", "store"),
        ("orders", "\"order\""),
    ];
    let fields: Vec<String> = TABLES
        .iter()
        .map(|(label, table)| {
            format!("'{label}', (SELECT count(*) FROM {table} WHERE deleted_at IS NULL)")
        })
        .chain(std::iter::once(
            "'setup markers', (SELECT count(*) FROM storeplane_setup)".to_owned(),
        ))
        .collect();
    let out = psql(
        url,
        &[],
        &format!("SELECT json_build_object({})", fields.join(", ")),
    )?;
    Ok(serde_json::from_str(&out)?)
}

/// A clone's PostgreSQL is a server of its own in the cluster, holding the
/// chart's database and user; on the tests' one server its database and
/// role get a suffix instead, so the source store's stay apart.
fn own_server(env: &mut BTreeMap<String, String>) {
    for name in ["DB_NAME", "DB_USER", "POSTGRES_DB", "POSTGRES_USER"] {
        if let Some(value) = env.get_mut(name) {
            value.push_str("_clone");
        }
    }
}

/// `server` (a superuser URL) on another database.
fn on_database(server: &str, database: &str) -> Result<String> {
    let (base, _) = server
        .rsplit_once('/')
        .context("STOREPLANE_TEST_PG has no database path")?;
    Ok(format!("{base}/{database}"))
}

/// An empty database for the store, made as the postgres image's entrypoint
/// makes it from the StatefulSet's `POSTGRES_*` environment.
fn fresh_database(server: &str, env: &BTreeMap<String, String>) -> Result<()> {
    let user = env
        .get("POSTGRES_USER")
        .context("POSTGRES_USER is not set")?;
    let password = env
        .get("POSTGRES_PASSWORD")
        .context("POSTGRES_PASSWORD is not set")?;
    let database = env.get("POSTGRES_DB").context("POSTGRES_DB is not set")?;
    psql(
        server,
        &[("u", user), ("p", password), ("d", database)],
        r#"SELECT format('CREATE ROLE %I LOGIN', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
ALTER ROLE :"u" PASSWORD :'p';
DROP DATABASE IF EXISTS :"d" WITH (FORCE);
CREATE DATABASE :"d" OWNER :"u";
"#,
    )?;
    Ok(())
}

/// The HTTP side: JSON in and out, any status returned to the caller.
struct Api {
    agent: ureq::Agent,
    base: String,
    key: Option<String>,
    bearer: Option<String>,
}

impl Api {
    fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
            key: None,
            bearer: None,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(key) = &self.key {
            request = request.header("x-publishable-api-key", key);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = match body {
            Some(body) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(body.to_string())?,
            ),
            None => self.agent.run(request.body(())?),
        }
        .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, json))
    }

    /// A call that must answer 200, its JSON body.
    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, json) = self.call(method, path, body)?;
        ensure!(status == 200, "{method} {path} answered {status}: {json}");
        Ok(json)
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.ok("GET", path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.ok("POST", path, Some(body))
    }
}

fn str_at<'a>(json: &'a Value, pointer: &str) -> Result<&'a str> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("no {pointer} in {json}"))
}

fn num_at(json: &Value, pointer: &str) -> Result<f64> {
    json.pointer(pointer)
        .and_then(Value::as_f64)
        .with_context(|| format!("no number {pointer} in {json}"))
}

/// What the order flow produced.
struct Order {
    id: String,
    total: f64,
    currency: String,
}

/// A storefront's checkout through the store API, step by step.
fn place_order(store: &Api, region_name: &str, email: &str) -> Result<Order> {
    let regions = store
        .get("/store/regions")
        .context("order step 1: list regions")?;
    let region = regions["regions"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == region_name))
        .with_context(|| format!("order step 1: no region {region_name} in {regions}"))?;
    let region_id = str_at(region, "/id")?;
    let currency = str_at(region, "/currency_code")?.to_owned();
    let country = str_at(region, "/countries/0/iso_2")?.to_owned();

    let products = store
        .get(&format!(
            "/store/products?region_id={region_id}&fields=id,title,handle,*variants,*variants.calculated_price"
        ))
        .context("order step 2: list products with prices")?;
    let list = products["products"].as_array().cloned().unwrap_or_default();
    ensure!(
        !list.is_empty(),
        "order step 2: the seed published no products: {products}"
    );
    let product = &list[0];
    let variant = &product["variants"][0];
    let variant_id = str_at(variant, "/id").context("order step 2: a product without variants")?;
    let unit_price = num_at(variant, "/calculated_price/calculated_amount")
        .context("order step 2: the variant has no price in the region's currency")?;

    let cart = store
        .post("/store/carts", &json!({"region_id": region_id}))
        .context("order step 3: create a cart")?;
    let cart_id = str_at(&cart, "/cart/id")?.to_owned();
    ensure!(
        str_at(&cart, "/cart/currency_code")? == currency,
        "order step 3: cart currency: {cart}"
    );

    let cart = store
        .post(
            &format!("/store/carts/{cart_id}/line-items"),
            &json!({"variant_id": variant_id, "quantity": 2}),
        )
        .context("order step 4: add a line item")?;
    let items = cart["cart"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        items.len() == 1
            && items[0]["quantity"] == 2
            && num_at(&items[0], "/unit_price")? == unit_price,
        "order step 4: the cart's items are not the two units added at {unit_price}: {}",
        cart["cart"]["items"]
    );
    ensure!(
        num_at(&cart, "/cart/subtotal")? == 2.0 * unit_price,
        "order step 4: subtotal: {cart}"
    );

    let address = json!({
        "first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Main Street",
        "city": "Berlin", "country_code": country, "postal_code": "10115"
    });
    let cart = store
        .post(
            &format!("/store/carts/{cart_id}"),
            &json!({"email": email, "shipping_address": address, "billing_address": address}),
        )
        .context("order step 5: set the e-mail and addresses")?;
    ensure!(
        cart["cart"]["email"] == email,
        "order step 5: e-mail not set: {cart}"
    );
    ensure!(
        cart["cart"]["shipping_address"]["country_code"] == country.as_str(),
        "order step 5: shipping address not set: {cart}"
    );

    let options = store
        .get(&format!("/store/shipping-options?cart_id={cart_id}"))
        .context("order step 6: list shipping options")?;
    let options = options["shipping_options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let express = options
        .iter()
        .find(|o| o["name"] == "Express Shipping")
        .with_context(|| format!("order step 6: no Express Shipping among {options:?}"))?;
    let shipping = num_at(express, "/amount")?;
    ensure!(
        shipping > 0.0,
        "order step 6: express shipping should cost something: {express}"
    );
    let cart = store
        .post(
            &format!("/store/carts/{cart_id}/shipping-methods"),
            &json!({"option_id": str_at(express, "/id")?}),
        )
        .context("order step 6: pick express shipping")?;
    let expected = 2.0 * unit_price + shipping;
    ensure!(
        num_at(&cart, "/cart/total")? == expected,
        "order step 6: total {} is not 2 × {unit_price} + {shipping}",
        cart["cart"]["total"]
    );

    let collection = store
        .post("/store/payment-collections", &json!({"cart_id": cart_id}))
        .context("order step 7: create the payment collection")?;
    let collection_id = str_at(&collection, "/payment_collection/id")?.to_owned();
    ensure!(
        num_at(&collection, "/payment_collection/amount")? == expected,
        "order step 7: the collection's amount: {collection}"
    );
    let collection = store
        .post(
            &format!("/store/payment-collections/{collection_id}/payment-sessions"),
            &json!({"provider_id": "pp_system_default"}),
        )
        .context("order step 8: a payment session with the manual provider")?;
    ensure!(
        str_at(
            &collection,
            "/payment_collection/payment_sessions/0/provider_id"
        )? == "pp_system_default",
        "order step 8: {collection}"
    );

    let completed = store
        .post(&format!("/store/carts/{cart_id}/complete"), &json!({}))
        .context("order step 9: complete the cart")?;
    ensure!(
        completed["type"] == "order",
        "order step 9: the cart did not become an order: {completed}"
    );
    let id = str_at(&completed, "/order/id")?.to_owned();
    let total = num_at(&completed, "/order/total")?;
    ensure!(
        total == expected,
        "order step 9: order total {total}, expected {expected}"
    );
    ensure!(
        completed["order"]["email"] == email,
        "order step 9: {completed}"
    );
    Ok(Order {
        id,
        total,
        currency,
    })
}

/// The ids of the products the store API lists.
fn store_product_ids(store: &Api) -> Result<Vec<String>> {
    let products = store.get("/store/products?fields=id&limit=100")?;
    Ok(products["products"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect())
}

/// The order as the admin API lists it, if it does.
fn admin_order(admin: &Api, id: &str) -> Result<Option<Value>> {
    let orders = admin.get("/admin/orders?fields=id,total,email,currency_code")?;
    Ok(orders["orders"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["id"] == id))
        .cloned())
}

/// After a restore: the store lists exactly the products of the backup and
/// the admin shows the order with its total.
fn check_store_is_back(store: &Api, admin: &Api, products: &[String], order: &Order) -> Result<()> {
    let mut listed = store_product_ids(store)?;
    let mut expected = products.to_vec();
    listed.sort();
    expected.sort();
    ensure!(
        listed == expected,
        "the store lists {listed:?}, the backup had {expected:?}"
    );
    let restored = admin_order(admin, &order.id)?
        .with_context(|| format!("order {} is not in the admin's list", order.id))?;
    ensure!(
        num_at(&restored, "/total")? == order.total
            && restored["currency_code"] == order.currency.as_str(),
        "the order came back as {restored}, placed as {} {}",
        order.total,
        order.currency
    );
    Ok(())
}

/// The tables whose rows differ between two states.
fn changed_tables(
    before: &BTreeMap<String, TableState>,
    after: &BTreeMap<String, TableState>,
) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| {
            let rows = |t: &BTreeMap<String, TableState>| t.get(name).map(|s| s.rows);
            format!("{name}: {:?} → {:?}", rows(before), rows(after))
        })
        .collect()
}

/// The row counts the report shows: the store's products, orders and what
/// the init seeded, then all tables together.
fn report_rows(tables: &BTreeMap<String, TableState>) -> String {
    const SHOWN: [&str; 11] = [
        "product",
        "product_variant",
        "order",
        "order_item",
        "order_line_item",
        "cart",
        "region",
        "sales_channel",
        "api_key",
        "user",
        "added_after_backup",
    ];
    let mut parts: Vec<String> = SHOWN
        .iter()
        .filter_map(|name| {
            tables
                .get(&format!("public.{name}"))
                .map(|t| format!("{name}={}", t.rows))
        })
        .collect();
    parts.push(format!(
        "| {} tables, {} rows",
        tables.len(),
        tables.values().map(|t| t.rows).sum::<i64>()
    ));
    parts.join(" ")
}

#[test]
fn a_store_built_from_its_image_steps_takes_an_order_and_its_init_converges() -> Result<()> {
    let pg = std::env::var("STOREPLANE_TEST_PG").context(
        "STOREPLANE_TEST_PG is not set: run the tests with `cargo xtask test`, \
         which starts a PostgreSQL server (and installs Redis) for them",
    )?;
    let out = target_dir();
    let run_dir = out.join("run");
    let _ = fs::remove_dir_all(&run_dir);
    fs::create_dir_all(&run_dir)?;

    let started = Instant::now();
    let image = native_image::build(
        Path::new(&format!("{PLUGIN_DIR}/images/backend/Dockerfile")),
        Path::new(&format!("{PLUGIN_DIR}/images/backend")),
        &out.join("backend"),
    )
    .context("step 1: building the backend image's steps natively")?;
    let build_time = started.elapsed();

    let (release, names, values) =
        provision().context("step 2: provisioning through the engine")?;
    let postgres = release.find("StatefulSet", &names.postgres)?;
    let postgres_env = release.env(release.container(postgres, "postgres")?)?;
    let redis = release.find("Deployment", &names.redis)?;
    let backend = release.find("Deployment", &names.backend)?;
    let job_name = names.init_job(values["init"]["jobSuffix"].as_str().unwrap_or_default());

    let (redis_process, redis_port) =
        start_redis(&release, &names, &run_dir).context("step 3: starting Redis")?;

    let postgres_service = release.service_port(&names.postgres, postgres)?;
    let redis_service = release.service_port(&names.redis, redis)?;
    let pg_port: u16 = pg
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .context("STOREPLANE_TEST_PG has no port")?;
    let network = |env: &mut BTreeMap<String, String>, what: &str, redis_port: u16| -> Result<()> {
        ensure!(
            route(env, &names.postgres, postgres_service, pg_port)? == 1,
            "{what}: no *_HOST names the PostgreSQL Service {}",
            names.postgres
        );
        ensure!(
            route(env, &names.redis, redis_service, redis_port)? == 1,
            "{what}: no *_HOST names the Redis Service {}",
            names.redis
        );
        Ok(())
    };

    let mut job = init_job(&release, &job_name, &image, &run_dir)
        .context("step 4: the init Job from the render")?;
    network(&mut job.env, "the init Job", redis_port)?;

    // From an empty database to the first order.
    fresh_database(&pg, &postgres_env).context("step 4: an empty database")?;
    let empty_at = Instant::now();
    let init = |log: &str, kill_on: Option<&str>| -> Result<bool> {
        let log = run_dir.join(log);
        match run_job(&job.argv, &image.workdir, &job.env, &log, kill_on)? {
            None => Ok(false),
            Some(status) if status.success() => Ok(true),
            Some(status) => bail!(
                "the init Job's script exited {status}; its last lines:\n{}",
                stack::tail(&log, 25)
            ),
        }
    };
    init("init-1.log", None)
        .context("step 4: the init Job (files/init.sh) on an empty database")?;
    let init_time = empty_at.elapsed();

    // The backend's init container, then the image's CMD with the
    // Deployment's environment.
    let mut backend_env = image.env.clone();
    backend_env.extend(release.env(release.container(backend, "backend")?)?);
    network(&mut backend_env, "the backend", redis_port)?;
    let container_port = release.container(backend, "backend")?["ports"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "http"))
        .and_then(|p| p["containerPort"].as_u64())
        .context("step 5: the backend has no http port")?;
    ensure!(
        backend_env.get("PORT").map(String::as_str) == Some(container_port.to_string().as_str()),
        "step 5: PORT is {:?} but the container port is {container_port}",
        backend_env.get("PORT")
    );
    let backend_port = free_port()?;
    backend_env.insert("PORT".into(), backend_port.to_string());

    let wait = release.container(backend, "wait-for-migrations")?;
    let mut wait_env = image.env.clone();
    wait_env.extend(release.env(wait)?);
    network(&mut wait_env, "wait-for-migrations", redis_port)?;
    let wait_argv: Vec<String> = wait["command"]
        .as_array()
        .context("wait-for-migrations has no command")?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let status = run_job(
        &wait_argv,
        &image.workdir,
        &wait_env,
        &run_dir.join("wait.log"),
        None,
    )?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "step 5: wait-for-migrations did not pass after the init Job: {}",
        stack::tail(&run_dir.join("wait.log"), 10)
    );

    let mut medusa = Process::start(
        "medusa start",
        &image.cmd,
        &image.workdir,
        &backend_env,
        &run_dir.join("backend.log"),
    )?;
    let api = Api::new(&format!("http://127.0.0.1:{backend_port}"));
    let container = release.container(backend, "backend")?;
    let startup = container["startupProbe"]["httpGet"]["path"]
        .as_str()
        .context("step 5: the backend has no HTTP startup probe")?;
    let boot = wait_until(
        "the backend's startup probe",
        Duration::from_secs(180),
        || {
            medusa.alive()?;
            Ok(matches!(api.call("GET", startup, None), Ok((200, _))))
        },
    )
    .context("step 5: medusa start")?;

    // What observe relies on: the probes behind Deployment availability,
    // and the store API answering with the key the init Job wrote.
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let path = container[probe]["httpGet"]["path"]
            .as_str()
            .with_context(|| format!("step 6: no HTTP {probe}"))?;
        let (status, body) = api.call("GET", path, None)?;
        ensure!(
            status == 200,
            "step 6: {probe} GET {path} answered {status}: {body}"
        );
    }
    let (status, body) = api.call("GET", "/store/regions", None)?;
    ensure!(
        status == 400,
        "step 6: the store API must refuse a call without a publishable key, answered {status}: {body}"
    );
    let key = format!(
        "pk_{}",
        release.secrets[&names.app_secret]
            .get("publishable-key")
            .context("step 6: the app Secret has no publishable-key")?
    );
    let store = Api {
        key: Some(key),
        ..Api::new(&api.base)
    };
    store
        .get("/store/regions")
        .context("step 6: the store API with the publishable key from the store's Secret")?;

    let region_name = str_at(&values, "/store/region/name")?;
    let order = place_order(&store, region_name, "buyer@example.com")?;
    let to_first_order = empty_at.elapsed();

    // The admin sees it, logged in with the generated credentials.
    let admin_email = &job.env["ADMIN_EMAIL"];
    let login = api
        .post(
            "/auth/user/emailpass",
            &json!({"email": admin_email, "password": job.env["ADMIN_PASSWORD"]}),
        )
        .context("step 8: admin login with the generated credentials")?;
    let admin = Api {
        bearer: Some(str_at(&login, "/token")?.to_owned()),
        ..Api::new(&api.base)
    };
    let orders = admin
        .get("/admin/orders?fields=id,display_id,total,email,currency_code,payment_status")
        .context("step 8: the admin's order list")?;
    let listed = orders["orders"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["id"] == order.id.as_str()))
        .with_context(|| {
            format!(
                "step 8: order {} is not in the admin's list: {orders}",
                order.id
            )
        })?;
    ensure!(
        num_at(listed, "/total")? == order.total
            && listed["currency_code"] == order.currency.as_str()
            && listed["email"] == "buyer@example.com"
            && listed["payment_status"] == "authorized",
        "step 8: the admin shows the order differently: {listed}"
    );

    // The init Job again, with the store running (a retry or an upgrade).
    let db = on_database(&pg, &postgres_env["POSTGRES_DB"])?;
    let before = row_counts(&db)?;
    init("init-2.log", None).context("step 9: the init Job run a second time")?;
    let after = row_counts(&db)?;
    ensure!(
        before == after,
        "step 9: a second init changed rows: {before:?} → {after:?}"
    );

    // A backup Job's container: backup.sh with the store database's
    // environment as the chart names it, into an emptyDir.
    let backup_env: BTreeMap<String, String> = job
        .env
        .iter()
        .filter(|(name, _)| name.starts_with("DB_"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .chain([("WAIT_SECONDS".to_owned(), "30".to_owned())])
        .collect();
    let backup_dir = run_dir.join("backup");
    fs::create_dir_all(&backup_dir)?;
    let backup_run = backup::run_script("backup.sh", &backup_env, &backup_dir)?
        .ok("step 10: backup.sh on the store database")?;
    let at_backup = backup::tables(&db)?;
    let objects_at_backup = backup::objects(&db)?;
    let dump_size = backup::size(&backup_dir.join("database.pgdump"))?;

    // The store goes on: a product deleted by the admin, every order gone,
    // a table added (as a later migration would).
    let products = store_product_ids(&store).context("step 10: the store's products")?;
    let deleted = products
        .first()
        .context("step 10: the store lists no products")?
        .clone();
    admin
        .ok("DELETE", &format!("/admin/products/{deleted}"), None)
        .context("step 10: deleting a product through the admin API")?;
    psql(
        &db,
        &[],
        "TRUNCATE \"order\" CASCADE; CREATE TABLE added_after_backup (id int);",
    )?;
    let changed = backup::tables(&db)?;
    ensure!(
        !store_product_ids(&store)?.contains(&deleted) && admin_order(&admin, &order.id)?.is_none(),
        "step 10: the product and the order should be gone before the restore"
    );

    // restore.sh over the changed database, the backend running.
    let restore_run = backup::run_script("restore.sh", &backup_env, &backup_dir)?
        .ok("step 10: restore.sh over the changed database")?;
    let restored = backup::tables(&db)?;
    ensure!(
        restored == at_backup,
        "step 10: after the restore the tables differ from the backup's: {:?}",
        changed_tables(&at_backup, &restored)
    );
    ensure!(
        backup::objects(&db)? == objects_at_backup,
        "step 10: after the restore the schema differs from the backup's"
    );
    check_store_is_back(&store, &admin, &products, &order)
        .context("step 10: the running backend after the restore")?;

    // The database dropped and recreated empty (a new StatefulSet), the
    // backup restored into it, the backend started on it.
    medusa.kill();
    fresh_database(&pg, &postgres_env)?;
    let empty_restore_run = backup::run_script("restore.sh", &backup_env, &backup_dir)?
        .ok("step 10: restore.sh into an empty database")?;
    let restored_empty = backup::tables(&db)?;
    ensure!(
        restored_empty == at_backup,
        "step 10: after a restore into an empty database the tables differ from the backup's: {:?}",
        changed_tables(&at_backup, &restored_empty)
    );
    ensure!(
        backup::objects(&db)? == objects_at_backup,
        "step 10: after a restore into an empty database the schema differs from the backup's"
    );
    let mut medusa = Process::start(
        "medusa start",
        &image.cmd,
        &image.workdir,
        &backend_env,
        &run_dir.join("backend-restored.log"),
    )?;
    let reboot = wait_until(
        "the backend's startup probe on the restored database",
        Duration::from_secs(180),
        || {
            medusa.alive()?;
            Ok(matches!(api.call("GET", startup, None), Ok((200, _))))
        },
    )
    .context("step 10: medusa start on the restored database")?;
    check_store_is_back(&store, &admin, &products, &order)
        .context("step 10: the backend started on the restored database")?;
    medusa.kill();

    // A clone, as the platform makes one from the backup: a new store with
    // the backup's configuration (so the same admin e-mail) and Secrets of
    // its own, its own PostgreSQL (empty) and Redis. The engine's restore
    // Job loads the backup (restore.sh) and removes the restored admin
    // login (after-restore.sh); once it completed the engine runs the init
    // Job again, now with the clone's Secrets.
    let (clone, _, _) = provision().context("step 11: provisioning the clone")?;
    let clone_dir = run_dir.join("clone");
    fs::create_dir_all(&clone_dir)?;
    let (clone_redis, clone_redis_port) =
        start_redis(&clone, &names, &clone_dir).context("step 11: the clone's Redis")?;
    let mut clone_postgres_env =
        clone.env(clone.container(clone.find("StatefulSet", &names.postgres)?, "postgres")?)?;
    own_server(&mut clone_postgres_env);
    fresh_database(&pg, &clone_postgres_env).context("step 11: the clone's empty database")?;
    let clone_db = on_database(&pg, &clone_postgres_env["POSTGRES_DB"])?;

    // The restore Job's containers with the clone's Secrets; the archive
    // as the download container leaves it: the step-10 backup's files.
    let (restore_name, restore_objects) =
        restore_job().context("step 11: the engine's restore Job")?;
    let restore_release = Release {
        objects: restore_objects,
        secrets: clone.secrets.clone(),
    };
    let restore_env = |container: JobContainer| -> Result<JobContainer> {
        let mut env = container.env;
        ensure!(
            route(&mut env, &names.postgres, postgres_service, pg_port)? == 1,
            "step 11: the restore Job's DB_HOST does not name the PostgreSQL Service"
        );
        own_server(&mut env);
        env.insert("BACKUP_DIR".into(), backup_dir.display().to_string());
        env.insert("WAIT_SECONDS".into(), "30".into());
        Ok(JobContainer {
            argv: container.argv,
            env,
        })
    };
    let load = restore_env(job_container(
        &restore_release,
        &restore_name,
        "db",
        &clone_dir,
    )?)?;
    ensure!(
        load.argv.last().is_some_and(|a| a.ends_with("/restore.sh")),
        "step 11: the restore Job's db container runs {:?}",
        load.argv
    );
    let clone_restore_run = backup::run_script("restore.sh", &load.env, &backup_dir)?
        .ok("step 11: restore.sh into the clone's empty database")?;
    let clone_restored = backup::tables(&clone_db)?;
    ensure!(
        clone_restored == at_backup,
        "step 11: the clone's restored tables differ from the backup's: {:?}",
        changed_tables(&at_backup, &clone_restored)
    );

    let unlink = restore_env(job_container(
        &restore_release,
        &restore_name,
        "clone",
        &clone_dir,
    )?)?;
    ensure!(
        unlink.env.get("ADMIN_EMAIL") == Some(admin_email),
        "step 11: the restore Job removes the login of {:?}, the store's admin is {admin_email}",
        unlink.env.get("ADMIN_EMAIL")
    );
    let unlink_started = Instant::now();
    let unlinked = run_job(
        &unlink.argv,
        &clone_dir,
        &unlink.env,
        &clone_dir.join("after-restore.log"),
        None,
    )?;
    ensure!(
        unlinked.is_some_and(|s| s.success()),
        "step 11: after-restore.sh failed:\n{}",
        stack::tail(&clone_dir.join("after-restore.log"), 25)
    );
    let unlink_time = unlink_started.elapsed();
    let without_login = row_counts(&clone_db)?;
    ensure!(
        without_login["login identities"] == after["login identities"] - 1
            && without_login["users"] == after["users"],
        "step 11: after-restore.sh should remove exactly the admin's login: {without_login:?}, \
         at the backup {after:?}"
    );

    // The init Job again, with the clone's Secrets.
    let mut clone_job =
        init_job(&clone, &job_name, &image, &clone_dir).context("step 11: the clone's init Job")?;
    network(&mut clone_job.env, "the clone's init Job", clone_redis_port)?;
    own_server(&mut clone_job.env);
    let clone_password = clone_job.env["ADMIN_PASSWORD"].clone();
    ensure!(
        clone_password != job.env["ADMIN_PASSWORD"]
            && clone_job.env["PUBLISHABLE_KEY_SECRET"] != job.env["PUBLISHABLE_KEY_SECRET"],
        "step 11: the clone's Secrets should be its own"
    );
    let clone_init_started = Instant::now();
    let status = run_job(
        &clone_job.argv,
        &image.workdir,
        &clone_job.env,
        &clone_dir.join("init.log"),
        None,
    )?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "step 11: the init Job on the clone's restored database failed:\n{}",
        stack::tail(&clone_dir.join("init.log"), 25)
    );
    let clone_init_time = clone_init_started.elapsed();
    let clone_counts = row_counts(&clone_db)?;
    ensure!(
        clone_counts == after,
        "step 11: the clone's rows differ from the backup's: {clone_counts:?} vs {after:?}"
    );
    let clone_initialised = backup::tables(&clone_db)?;

    // The clone's backend, the Deployment's environment with its Secrets.
    let mut clone_backend_env = image.env.clone();
    clone_backend_env
        .extend(clone.env(clone.container(clone.find("Deployment", &names.backend)?, "backend")?)?);
    network(
        &mut clone_backend_env,
        "the clone's backend",
        clone_redis_port,
    )?;
    own_server(&mut clone_backend_env);
    let clone_port = free_port()?;
    clone_backend_env.insert("PORT".into(), clone_port.to_string());
    let mut clone_medusa = Process::start(
        "medusa start (the clone)",
        &image.cmd,
        &image.workdir,
        &clone_backend_env,
        &clone_dir.join("backend.log"),
    )?;
    let clone_api = Api::new(&format!("http://127.0.0.1:{clone_port}"));
    let clone_boot = wait_until(
        "the clone's startup probe",
        Duration::from_secs(180),
        || {
            clone_medusa.alive()?;
            Ok(matches!(clone_api.call("GET", startup, None), Ok((200, _))))
        },
    )
    .context("step 11: medusa start on the clone's database")?;

    // The admin: the clone's password logs in, the source's does not, nor
    // does a token the source store signed.
    let login = clone_api
        .post(
            "/auth/user/emailpass",
            &json!({"email": admin_email, "password": clone_password}),
        )
        .context("step 11: admin login to the clone with the clone's password")?;
    let clone_admin = Api {
        bearer: Some(str_at(&login, "/token")?.to_owned()),
        ..Api::new(&clone_api.base)
    };
    let (source_password, body) = clone_api.call(
        "POST",
        "/auth/user/emailpass",
        Some(&json!({"email": admin_email, "password": job.env["ADMIN_PASSWORD"]})),
    )?;
    ensure!(
        source_password == 401,
        "step 11: the source store's admin password must not log in to the clone, answered \
         {source_password}: {body}"
    );
    let (source_token, body) = Api {
        bearer: admin.bearer.clone(),
        ..Api::new(&clone_api.base)
    }
    .call("GET", "/admin/orders?fields=id", None)?;
    ensure!(
        source_token == 401,
        "step 11: the source store's admin token must not work on the clone, answered \
         {source_token}: {body}"
    );

    // The storefront: the clone's key lists the backup's products (and
    // the admin the order), the source's key is refused.
    let clone_store = Api {
        key: Some(format!(
            "pk_{}",
            clone.secrets[&names.app_secret]
                .get("publishable-key")
                .context("step 11: the clone's app Secret has no publishable-key")?
        )),
        ..Api::new(&clone_api.base)
    };
    check_store_is_back(&clone_store, &clone_admin, &products, &order)
        .context("step 11: the clone with its own key and admin")?;
    let (source_key, body) = Api {
        key: store.key.clone(),
        ..Api::new(&clone_api.base)
    }
    .call("GET", "/store/products?fields=id", None)?;
    ensure!(
        (400..500).contains(&source_key),
        "step 11: the source store's publishable key must not work on the clone, answered \
         {source_key}: {body}"
    );
    clone_medusa.kill();
    drop(clone_redis);

    // A fresh database; the init killed in the middle of the seed, then run
    // to the end: the same rows as a clean run, less the order.
    fresh_database(&pg, &postgres_env)?;
    let completed = init("init-killed.log", Some("storeplane: tax regions"))
        .context("step 12: the init Job killed in the seed")?;
    ensure!(
        !completed,
        "step 12: the init Job finished before it could be killed"
    );
    let half = row_counts(&db)?;
    ensure!(
        half["setup markers"] < before["setup markers"] && half["regions"] == 1,
        "step 12: the kill did not land between the region and the seed's marker: {half:?}"
    );
    init("init-rerun.log", None).context("step 12: the init Job run again after the kill")?;
    let converged = row_counts(&db)?;
    let mut expected = before.clone();
    expected.insert("orders".into(), 0);
    ensure!(
        converged == expected,
        "step 12: after a killed seed the rows differ from a clean run: {converged:?} vs {expected:?}"
    );
    drop(redis_process);

    eprintln!(
        "medusa for real: image steps {:.1} s; init on an empty database {:.1} s; backend up in {:.1} s; \
         empty database → order {} ({} {}) in {:.1} s",
        build_time.as_secs_f64(),
        init_time.as_secs_f64(),
        boot.as_secs_f64(),
        order.id,
        order.total,
        order.currency,
        to_first_order.as_secs_f64()
    );
    eprintln!(
        "backup: database.pgdump {dump_size} bytes in {:.1} s; restore over the changed database {:.1} s, \
         into an empty one {:.1} s; backend up again on it in {:.1} s",
        backup_run.took.as_secs_f64(),
        restore_run.took.as_secs_f64(),
        empty_restore_run.took.as_secs_f64(),
        reboot.as_secs_f64()
    );
    eprintln!(
        "clone: restore.sh into its empty database {:.1} s; after-restore.sh {:.1} s; init {:.1} s; \
         backend up in {:.1} s; the admin logs in with the clone's password (the source's: {source_password}, \
         the source's token: {source_token}); the clone's key lists the backup's {} products (the source's \
         key: {source_key})",
        clone_restore_run.took.as_secs_f64(),
        unlink_time.as_secs_f64(),
        clone_init_time.as_secs_f64(),
        clone_boot.as_secs_f64(),
        products.len()
    );
    eprintln!(
        "rows at the backup:                   {}",
        report_rows(&at_backup)
    );
    eprintln!(
        "rows restored into the clone:         {}",
        report_rows(&clone_restored)
    );
    eprintln!(
        "what the clone's init changed:        {}",
        changed_tables(&clone_restored, &clone_initialised).join(", ")
    );
    eprintln!(
        "rows changed after it:                {}",
        report_rows(&changed)
    );
    eprintln!(
        "rows restored over the changes:       {}",
        report_rows(&restored)
    );
    eprintln!(
        "rows restored into an empty database: {}",
        report_rows(&restored_empty)
    );
    eprintln!("rows before the second init: {before:?}");
    eprintln!("rows in the clone without the admin's login: {without_login:?}");
    eprintln!("rows in the clone after its init:            {clone_counts:?}");
    eprintln!("rows after the second init:  {after:?}");
    eprintln!("rows after a killed seed:    {half:?}");
    eprintln!("rows after its re-run:       {converged:?}");
    Ok(())
}
