//! [`HostBackend`] for plugins: Kubernetes operations through [`KubeOps`],
//! chart releases through the chart engine (render, apply in install order,
//! prune what a revision no longer has, record the revision), and generated
//! secrets. The plugin host has already checked capabilities and scope.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use storeplane_chart::{Chart, HelmBinary, RenderOptions};
use storeplane_plugin_host::{
    HostBackend, HostError, KindScope, Level, Release, SecretRef, StoreContext, policy,
};
use tracing::{debug, error, info, warn};

use super::{KubeOps, Owner};
use crate::domain::{
    NewEvent, Outcome,
    ports::{ReleaseStore, StoreRepository},
    release::{ObjectRef, Revision},
};

/// Label naming the release an object belongs to.
pub const LABEL_RELEASE: &str = "storeplane.dev/release";
/// Length of generated secret values.
const SECRET_LENGTH: usize = 32;

/// The platform side of the plugin host API.
pub struct PlatformBackend {
    kube: Arc<KubeOps>,
    /// This installation's id, on every object's labels.
    installation: String,
    releases: Arc<dyn ReleaseStore>,
    stores: Arc<dyn StoreRepository>,
    helm: Option<HelmBinary>,
    /// Charts by directory, loaded once: they sit in plugin bundles, which
    /// do not change while the process runs, and every provision of every
    /// store renders one of them.
    charts: Mutex<HashMap<PathBuf, Arc<Chart>>>,
}

impl PlatformBackend {
    /// A backend over the cluster, the release records and the stores
    /// (for plugin log lines in the timeline).
    pub fn new(
        kube: Arc<KubeOps>,
        installation: uuid::Uuid,
        releases: Arc<dyn ReleaseStore>,
        stores: Arc<dyn StoreRepository>,
    ) -> Self {
        Self {
            kube,
            installation: installation.to_string(),
            releases,
            stores,
            helm: None,
            charts: Mutex::new(HashMap::new()),
        }
    }

    /// Renders charts with `helm template` through this binary instead of
    /// the built-in engine (see [`HelmBinary`] for what differs).
    #[must_use]
    pub fn with_helm_binary(mut self, helm: Option<HelmBinary>) -> Self {
        self.helm = helm;
        self
    }

    /// The owner labels of `store`'s objects.
    fn owner(&self, store: &StoreContext) -> Owner {
        Owner {
            store: store.id.clone(),
            tenant: store
                .tenant
                .strip_prefix("tenants/")
                .unwrap_or(&store.tenant)
                .to_owned(),
            installation: self.installation.clone(),
        }
    }

    fn label(&self, store: &StoreContext, object: &mut Value, release: Option<&str>) {
        self.owner(store).label(object);
        if let Some(release) = release {
            object["metadata"]["labels"][LABEL_RELEASE] = Value::String(release.to_owned());
        }
    }

    /// Deletes an object a release applied, but only if it still carries
    /// this store's, this installation's and this release's labels: pruning
    /// never removes what someone else put under the same name.
    async fn delete_released(
        &self,
        store: &StoreContext,
        release: &str,
        object: &ObjectRef,
    ) -> Result<(), HostError> {
        policy::check_delete(&object.api_version, &object.kind, &object.name)?;
        let Some(live) = self
            .kube
            .get(
                Some(&store.namespace),
                &object.api_version,
                &object.kind,
                &object.name,
            )
            .await?
        else {
            return Ok(());
        };
        let owned = self.owner(store).owns(&live).is_ours()
            && live["metadata"]["labels"][LABEL_RELEASE].as_str() == Some(release);
        let uid = live["metadata"]["uid"].as_str().unwrap_or_default();
        if !owned || uid.is_empty() {
            warn!(
                release,
                kind = %object.kind,
                name = %object.name,
                "not pruning an object that is not this release's"
            );
            return Ok(());
        }
        self.kube
            .delete_uid(
                Some(&store.namespace),
                &object.api_version,
                &object.kind,
                &object.name,
                uid,
            )
            .await?;
        Ok(())
    }

    /// Renders `chart_dir` with `values` as the next revision of `release`
    /// and applies it, pruning what the previous revision had and this one
    /// does not.
    pub async fn apply_revision(
        &self,
        store: &StoreContext,
        release: &str,
        chart_dir: &Path,
        values: Value,
    ) -> Result<Release, HostError> {
        let previous = self
            .releases
            .latest(&store.id, release)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?;
        let revision = previous.as_ref().map_or(1, |p| p.revision + 1);
        let options = RenderOptions {
            release_name: release.to_owned(),
            namespace: store.namespace.clone(),
            revision: u64::try_from(revision).unwrap_or(1),
            is_upgrade: previous.is_some(),
            values: values.clone(),
            ..RenderOptions::default()
        };
        let dir = chart_dir.to_path_buf();
        let helm = self.helm.clone();
        let cached = self
            .charts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&dir)
            .cloned();
        // Loading and rendering are CPU, file or process work: off the
        // async workers.
        let (chart, rendered) = tokio::task::spawn_blocking(move || {
            let chart = match cached {
                Some(chart) => chart,
                None => Arc::new(Chart::load(&dir)?),
            };
            let rendered = match &helm {
                Some(helm) => helm.render(&chart, &dir, &options)?,
                None => chart.render(&options)?,
            };
            Ok::<_, storeplane_chart::Error>((chart, rendered))
        })
        .await
        .map_err(|e| HostError::Unavailable(e.to_string()))?
        .map_err(|e| HostError::Invalid(format!("chart {}: {e}", chart_dir.display())))?;
        self.charts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(chart_dir.to_path_buf())
            .or_insert_with(|| Arc::clone(&chart));

        // Every object is checked before any is applied: a refused chart
        // leaves the namespace as it was.
        let manifests: Vec<_> = rendered
            .manifests
            .iter()
            .chain(rendered.hooks.iter())
            .collect();
        for manifest in &manifests {
            let api_version = manifest.object["apiVersion"].as_str().unwrap_or_default();
            let kind = manifest.object["kind"].as_str().unwrap_or_default();
            // The sandbox's object policy holds for charts as for direct
            // applies (the host reports the refusal on the timeline).
            policy::check_apply(store, &manifest.object)?;
            if self.kube.kind_scope(api_version, kind).await? == KindScope::Cluster {
                return Err(HostError::Denied(format!(
                    "chart {} renders cluster-scoped {kind} {}; plugins may only create objects in the store's namespace",
                    chart.metadata().name,
                    manifest.name()
                )));
            }
        }
        let mut applied = Vec::new();
        for manifest in manifests {
            let mut object = manifest.object.clone();
            let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
            let kind = object["kind"].as_str().unwrap_or_default().to_owned();
            object["metadata"]["namespace"] = Value::String(store.namespace.clone());
            if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
                // Hooks are applied with the release; their Helm annotations
                // would only confuse readers of the objects.
                annotations.retain(|k, _| !k.starts_with("helm.sh/hook"));
            }
            self.label(store, &mut object, Some(release));
            self.kube
                .apply_unread(Some(&store.namespace), &object)
                .await?;
            applied.push(ObjectRef {
                api_version,
                kind,
                name: manifest.name().to_owned(),
            });
        }
        if let Some(previous) = &previous {
            let current: HashSet<&ObjectRef> = applied.iter().collect();
            for gone in previous
                .objects
                .iter()
                .rev()
                .filter(|o| !current.contains(o))
            {
                debug!(release, kind = %gone.kind, name = %gone.name, "pruning");
                self.delete_released(store, release, gone).await?;
            }
        }
        let digest = rendered.digest();
        let record = Revision {
            store_id: store.id.clone(),
            namespace: store.namespace.clone(),
            name: release.to_owned(),
            revision,
            chart: chart.metadata().name.clone(),
            chart_version: chart.metadata().version.clone(),
            chart_dir: chart_dir.display().to_string(),
            values,
            digest: digest.clone(),
            objects: applied,
        };
        self.releases
            .record(&record)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?;
        let renderer = self
            .helm
            .as_ref()
            .map_or_else(|| "built-in".to_owned(), |h| h.path().display().to_string());
        info!(release, revision, chart = %record.chart, objects = record.objects.len(), %renderer, "release applied");
        Ok(to_release(&record))
    }

    /// Re-applies the revision before the current one as a new revision.
    pub async fn rollback(
        &self,
        store: &StoreContext,
        release: &str,
    ) -> Result<Release, HostError> {
        let history = self
            .releases
            .history(&store.id, release)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?;
        let target = history.get(1).ok_or_else(|| {
            HostError::NotFound(format!("release {release} has no previous revision"))
        })?;
        let chart_dir = std::path::PathBuf::from(&target.chart_dir);
        self.apply_revision(store, release, &chart_dir, target.values.clone())
            .await
    }

    /// The releases of a store's namespace.
    pub fn releases(&self) -> &dyn ReleaseStore {
        self.releases.as_ref()
    }
}

fn to_release(r: &Revision) -> Release {
    Release {
        name: r.name.clone(),
        chart: r.chart.clone(),
        chart_version: r.chart_version.clone(),
        revision: u32::try_from(r.revision).unwrap_or(0),
        digest: r.digest.clone(),
    }
}

fn random_value() -> Result<String, HostError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; SECRET_LENGTH];
    getrandom::fill(&mut bytes).map_err(|e| HostError::Unavailable(e.to_string()))?;
    // 62 symbols: reject-free modulo bias is under 1 % per character here,
    // negligible against 190 bits of entropy.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

#[async_trait]
impl HostBackend for PlatformBackend {
    async fn kind_scope(&self, api_version: &str, kind: &str) -> Result<KindScope, HostError> {
        Ok(self.kube.kind_scope(api_version, kind).await?)
    }

    async fn apply(&self, store: &StoreContext, mut object: Value) -> Result<Value, HostError> {
        self.label(store, &mut object, None);
        Ok(self.kube.apply(Some(&store.namespace), &object).await?)
    }

    async fn get(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, HostError> {
        let object = self
            .kube
            .get(Some(&store.namespace), api_version, kind, name)
            .await?;
        // Plugins never see secret values.
        Ok(object.map(|o| {
            if kind == "Secret" {
                redact_secret(o)
            } else {
                o
            }
        }))
    }

    async fn list(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, HostError> {
        let objects = self
            .kube
            .list(Some(&store.namespace), api_version, kind, selector)
            .await?;
        Ok(if kind == "Secret" {
            objects.into_iter().map(redact_secret).collect()
        } else {
            objects
        })
    }

    async fn delete(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, HostError> {
        Ok(self
            .kube
            .delete(Some(&store.namespace), api_version, kind, name)
            .await?)
    }

    async fn install_or_upgrade(
        &self,
        store: &StoreContext,
        release: &str,
        chart_dir: &Path,
        values: Value,
    ) -> Result<Release, HostError> {
        self.apply_revision(store, release, chart_dir, values).await
    }

    async fn uninstall(&self, store: &StoreContext, release: &str) -> Result<bool, HostError> {
        let Some(latest) = self
            .releases
            .latest(&store.id, release)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?
        else {
            return Ok(false);
        };
        for object in latest.objects.iter().rev() {
            self.delete_released(store, release, object).await?;
        }
        self.releases
            .forget(&store.id, release)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?;
        Ok(true)
    }

    async fn release_status(
        &self,
        store: &StoreContext,
        release: &str,
    ) -> Result<Option<Release>, HostError> {
        Ok(self
            .releases
            .latest(&store.id, release)
            .await
            .map_err(|e| HostError::Unavailable(e.to_string()))?
            .as_ref()
            .map(to_release))
    }

    async fn ensure_secret(
        &self,
        store: &StoreContext,
        name: &str,
        keys: &[String],
    ) -> Result<SecretRef, HostError> {
        // Create, never overwrite: two runs racing here (a replica whose
        // lease ran out, say) must not write two different passwords, the
        // second after a database was initialised with the first. The
        // loser of a create reads the winner's values.
        //
        // The create goes first: a new store's Secret is absent, and one
        // request (the create) beats two (a read that finds nothing, then
        // the create) on every provision of a new store; a Secret that is
        // there (an upgrade, a drift correction) costs a refused create
        // before the read instead.
        for attempt in 0..3 {
            let existing = match attempt {
                0 => None,
                _ => {
                    self.kube
                        .get(Some(&store.namespace), "v1", "Secret", name)
                        .await?
                }
            };
            let mut data = existing
                .as_ref()
                .and_then(|s: &Value| s["data"].as_object().cloned())
                .unwrap_or_default();
            let mut added = false;
            for key in keys {
                if !data.contains_key(key) {
                    data.insert(key.clone(), Value::String(STANDARD.encode(random_value()?)));
                    added = true;
                }
            }
            let mut secret = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": store.namespace},
                "type": "Opaque",
                "data": data,
            });
            self.label(store, &mut secret, None);
            if existing.is_none() {
                match self
                    .kube
                    .create(super::FIELD_MANAGER, Some(&store.namespace), &secret)
                    .await
                {
                    Ok(_) => {}
                    Err(err) if err.is_conflict() => continue,
                    Err(err) => return Err(err.into()),
                }
            } else if added {
                // Only new keys are generated; existing values are sent back
                // unchanged.
                self.kube
                    .apply_unread(Some(&store.namespace), &secret)
                    .await?;
            }
            let mut all: Vec<String> = data.keys().cloned().collect();
            all.sort();
            return Ok(SecretRef {
                name: name.to_owned(),
                keys: all,
            });
        }
        Err(HostError::Conflict(format!(
            "Secret {name} keeps changing; try again"
        )))
    }

    fn log(&self, plugin: &str, store: Option<&StoreContext>, level: Level, message: &str) {
        let store_name = store.map(|s| s.name.as_str()).unwrap_or("-");
        match level {
            Level::Trace | Level::Debug => debug!(plugin, store = store_name, "{message}"),
            Level::Info => info!(plugin, store = store_name, "{message}"),
            Level::Warn => warn!(plugin, store = store_name, "{message}"),
            Level::Error => error!(plugin, store = store_name, "{message}"),
        }
        // Warnings and errors also go to the store's timeline.
        if matches!(level, Level::Warn | Level::Error)
            && let Some(id) = store.and_then(|s| uuid::Uuid::parse_str(&s.id).ok())
        {
            let stores = Arc::clone(&self.stores);
            let event = NewEvent {
                reason: "PluginLog".into(),
                message: format!("{plugin}: {message}"),
                outcome: if level == Level::Error {
                    Outcome::Failed
                } else {
                    Outcome::Info
                },
                duration_ms: 0,
            };
            tokio::spawn(async move {
                let _ = stores.record_event(id, event).await;
            });
        }
    }

    fn refused(&self, plugin: &str, store: &StoreContext, operation: &str, message: &str) {
        warn!(plugin, store = %store.name, operation, "plugin request refused: {message}");
        let Ok(id) = uuid::Uuid::parse_str(&store.id) else {
            return;
        };
        let stores = Arc::clone(&self.stores);
        let event = NewEvent {
            reason: "PluginDenied".into(),
            message: format!("{plugin}: {operation} refused: {message}"),
            outcome: Outcome::Failed,
            duration_ms: 0,
        };
        // The host bounds refusals per call; the write is off the call's path.
        tokio::spawn(async move {
            let _ = stores.record_event(id, event).await;
        });
    }
}

/// Removes a Secret's values, keeping its keys.
fn redact_secret(mut secret: Value) -> Value {
    for field in ["data", "stringData"] {
        if let Some(map) = secret[field].as_object_mut() {
            for value in map.values_mut() {
                *value = Value::String(String::new());
            }
        }
    }
    secret
}
