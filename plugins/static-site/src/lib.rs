//! `static-site`: a storeplane engine serving a static storefront on nginx
//! (`nginxinc/nginx-unprivileged`, non-root) from the Helm chart in
//! `charts/static-site`.
//!
//! - `provision`: ensures the admin password Secret, then installs or
//!   upgrades release `<store name>` with values built from the
//!   configuration and the store context.
//! - `observe`: reads the Deployment (and, while it is not available, its
//!   Pods) to report Provisioning, Ready (with the storefront and `/admin/`
//!   URLs) or Failed with a reason.
//! - `deprovision`: uninstalls the release and deletes the Secret.

pub mod config;
pub mod site;

use serde_json::{Value, json};
use storeplane_plugin_sdk::objects::{WorkloadHealth, deployment_health};
use storeplane_plugin_sdk::readiness::stuck_release_container;
use storeplane_plugin_sdk::{
    Capability, Engine, EngineId, EngineInfo, FieldError, Host, Observation, Result, Store,
};

pub use config::Config;

/// The engine id, equal to `plugin.toml`'s.
pub const ID: &str = "static-site";
/// The chart directory name in the bundle (`charts/static-site`).
pub const CHART: &str = "static-site";
/// The user name of the `/admin/` area; the password is generated.
pub const ADMIN_USER: &str = "admin";
/// The key of the admin password in the generated Secret.
pub const PASSWORD_KEY: &str = "password";

/// The engine. Stateless: everything comes from the store and the cluster.
#[derive(Debug, Default)]
pub struct StaticSite;

/// The Helm release of a store: one per store, named after it (the chart's
/// Deployment, Service and Ingress take the same name).
pub fn release_name(store: &Store<Config>) -> String {
    store.name.to_string()
}

/// The Secret holding the admin password.
pub fn admin_secret_name(store: &Store<Config>) -> String {
    format!("{}-admin", store.name)
}

/// The chart values for a store: the configuration's pages and replicas,
/// and the platform's host name, ingress class and TLS settings.
pub fn helm_values(store: &Store<Config>) -> Value {
    let config = &store.config;
    json!({
        "replicaCount": config.replicas,
        "site": {
            "indexHtml": site::storefront(config),
            "adminHtml": site::admin(config, store.name.as_str(), store.generation),
        },
        "admin": {
            "enabled": true,
            "username": ADMIN_USER,
            "existingSecret": admin_secret_name(store),
            "passwordKey": PASSWORD_KEY,
        },
        "ingress": {
            "enabled": true,
            "host": store.host,
            "className": store.ingress_class.clone().unwrap_or_default(),
            "tls": {
                "enabled": store.tls,
                "clusterIssuer": store.cluster_issuer.clone().unwrap_or_default(),
            },
        },
    })
}

impl Engine for StaticSite {
    type Config = Config;

    fn describe(&self) -> EngineInfo {
        EngineInfo {
            id: EngineId::new(ID),
            display_name: "Static site".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A static storefront on nginx: your title and products on one page, \
                          with a password-protected admin page."
                .into(),
            capabilities: vec![
                Capability::KubeRead,
                Capability::KubeWrite,
                Capability::Helm,
                Capability::Secrets,
            ],
        }
    }

    fn config_schema(&self) -> Value {
        config::schema()
    }

    fn validate(&self, config: &Config) -> Vec<FieldError> {
        config::validate(config)
    }

    fn provision(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
        let secret = host.ensure_secret(&admin_secret_name(store), &[PASSWORD_KEY])?;
        host.debug(format!("admin password in Secret {}", secret.name));
        let release =
            host.helm_install_or_upgrade(&release_name(store), CHART, &helm_values(store))?;
        host.info(format!(
            "release {} at revision {} (chart {} {})",
            release.name, release.revision, release.chart, release.chart_version
        ));
        Ok(())
    }

    fn observe(&self, host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
        let release = release_name(store);
        if host.helm_status(&release)?.is_none() {
            return Ok(Observation::provisioning(
                "the release is not installed yet",
            ));
        }
        let Some(deployment) = host.kube_get("apps/v1", "Deployment", &release)? else {
            return Ok(Observation::provisioning(format!(
                "waiting for Deployment {release}"
            )));
        };
        match deployment_health(&deployment) {
            WorkloadHealth::Available { available, desired } => Ok(Observation::ready(format!(
                "{available} of {desired} nginx replicas available"
            ))
            .storefront_url(store.url("/"))
            .admin_url(store.url("/admin/"))
            .credentials_secret(admin_secret_name(store))),
            WorkloadHealth::Failed { reason, message } => Ok(Observation::failed(reason, message)),
            // No replica counted yet: no Pod to be stuck, and listing them
            // would be a request for nothing (the first look, right after
            // the install, is usually this one). The status write that
            // counts the first replica wakes the store again.
            WorkloadHealth::Progressing { message }
                if deployment["status"]["replicas"].as_i64().unwrap_or(0) == 0 =>
            {
                Ok(Observation::provisioning(message))
            }
            // The Deployment only gives up after its progress deadline
            // (minutes); a Pod stuck pulling its image says so at once.
            WorkloadHealth::Progressing { message } => {
                Ok(match stuck_release_container(host, CHART, &release)? {
                    Some((reason, message)) => Observation::failed(reason, message),
                    None => Observation::provisioning(message),
                })
            }
        }
    }

    fn releases(&self, store: &Store<Config>) -> Vec<String> {
        vec![release_name(store)]
    }

    fn deprovision(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
        host.helm_uninstall(&release_name(store))?;
        // The platform deletes the namespace afterwards; deleting the Secret
        // here keeps deprovision complete on its own.
        host.kube_delete("v1", "Secret", &admin_secret_name(store))?;
        Ok(())
    }
}

storeplane_plugin_sdk::register_plugin!(StaticSite);
