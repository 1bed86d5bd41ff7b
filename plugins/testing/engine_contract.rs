//! What every engine owes the platform, checked the same way for each:
//! included by each engine's `tests/engine.rs` (`#[path]`), with the
//! engine's fake host and store. Engine-specific checks stay in the engine's
//! own tests. Not every engine uses every check.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared test code: not every engine uses every check, and a check fails by panicking"
)]

use serde_json::Value;
use storeplane_plugin_sdk::testing::{FakeHost, Harness, Matcher};
use storeplane_plugin_sdk::{Engine, HostError, Observation, Phase, StoreContext};

/// The release every engine installs for the SDK's `store_context`.
const RELEASE: &str = "test-shop";

/// `plugins/engines.json` (the record-only catalog, `--engines-file`) must
/// offer exactly what each engine plugin describes, so a store recorded
/// without a cluster validates the same way as with one.
#[track_caller]
pub fn assert_offered_as_described<E: Engine>(plugin_dir: &str) {
    let path = std::path::Path::new(plugin_dir).join("../engines.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let engines: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let (info, schema) = Harness::<E>::new().describe();
    let id = info.id.as_str();
    let offered = engines["engines"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["id"] == id))
        .unwrap_or_else(|| panic!("engines.json does not offer {id}"));
    assert_eq!(schema, offered["config_schema"], "{id}: config schema");
    assert_eq!(info.version, offered["version"], "{id}: version");
    assert_eq!(
        info.description, offered["description"],
        "{id}: description"
    );
    let operations: Vec<&str> = E::default()
        .operations()
        .into_iter()
        .map(|o| o.as_str())
        .collect();
    assert_eq!(
        serde_json::json!(operations),
        offered["operations"],
        "{id}: operations"
    );
    assert_eq!(
        storeplane_plugin_sdk::WIT_VERSION,
        offered["plugin_api"],
        "{id}: plugin API"
    );
}

/// Provisioning twice with the same store converges: the second install is
/// a new revision with the same content.
#[track_caller]
pub fn provision_twice_converges<E: Engine>(host: &FakeHost, store: &StoreContext) {
    let plugin = Harness::<E>::new();
    plugin.provision(host, store).unwrap();
    let first = host.release(RELEASE).unwrap();
    plugin.provision(host, store).unwrap();
    let second = host.release(RELEASE).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(second.revision, 2);
}

/// The platform's TLS issuer and ingress class reach the chart; returns the
/// values for the engine's own further checks.
#[track_caller]
pub fn provision_passes_tls_and_ingress_class<E: Engine>(
    host: &FakeHost,
    mut store: StoreContext,
    ingress_class: &str,
) -> Value {
    store.tls = true;
    store.cluster_issuer = Some("letsencrypt-prod".into());
    store.ingress_class = Some(ingress_class.into());
    Harness::<E>::new().provision(host, &store).unwrap();
    let values = host.release_values(RELEASE).unwrap();
    assert_eq!(
        values["ingress"]["tls"],
        serde_json::json!({"enabled": true, "clusterIssuer": "letsencrypt-prod"})
    );
    assert_eq!(values["ingress"]["className"], ingress_class);
    values
}

/// A chart engine that is briefly down is a retryable failure, and the next
/// attempt installs the release.
#[track_caller]
pub fn provision_retries_when_the_chart_engine_is_down<E: Engine>(
    host: FakeHost,
    store: &StoreContext,
) {
    let host = host.fail_once(
        Matcher::helm_install(RELEASE),
        HostError::Unavailable("chart engine restarting".into()),
    );
    let plugin = Harness::<E>::new();
    let err = plugin.provision(&host, store).unwrap_err();
    assert!(err.retryable, "{err}");
    plugin.provision(&host, store).unwrap();
    assert!(host.release(RELEASE).is_some());
}

/// Before its release is installed a store is provisioning, without URLs.
#[track_caller]
pub fn observe_before_install_is_provisioning<E: Engine>(host: &FakeHost, store: &StoreContext) {
    let seen = Harness::<E>::new().observe(host, store).unwrap();
    assert_eq!(seen.phase, Phase::Provisioning);
    assert_eq!(seen.storefront_url, None);
}

/// Tenant text never starts like a command-line option: `validate` refuses
/// a leading `-` in each free-text `field` of an otherwise valid `config`
/// (the second line of defence behind scripts that never pass tenant text
/// as an argument of its own).
#[track_caller]
pub fn free_text_may_not_start_like_an_option<E: Engine>(config: &Value, fields: &[&str]) {
    let plugin = Harness::<E>::new();
    assert!(
        plugin.validate(config).is_empty(),
        "the base config must be valid"
    );
    for field in fields {
        for hostile in ["--exec=phpinfo();", " -p@example.com"] {
            let mut bad = config.clone();
            bad[*field] = Value::from(hostile);
            let errors = plugin.validate(&bad);
            assert!(
                errors.iter().any(|e| e.field == *field),
                "{field} = {hostile:?} was accepted: {errors:?}"
            );
        }
    }
}

/// An observation the host stores as it is: a CamelCase reason of at most
/// 128 characters, http(s) URLs, a DNS-1123 credentials Secret name (the
/// host refuses anything else as `InvalidObservation`).
#[track_caller]
pub fn assert_storable(observation: &Observation) {
    let reason = &observation.reason;
    assert!(
        reason.is_empty()
            || (reason.len() <= 128
                && reason.starts_with(|c: char| c.is_ascii_uppercase())
                && reason.chars().all(|c| c.is_ascii_alphanumeric())),
        "reason {reason:?}"
    );
    for url in [&observation.storefront_url, &observation.admin_url]
        .into_iter()
        .flatten()
    {
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "url {url:?}"
        );
    }
    if let Some(secret) = &observation.credentials_secret {
        assert!(
            !secret.is_empty()
                && secret.len() <= 253
                && secret
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
            "credentials secret {secret:?}"
        );
    }
}
