//! The store lifecycle rules, independent of transport and storage.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tracing::warn;

use super::{
    Config, Error, FieldViolation, IdempotencyKey, NewEvent, NewStore, Phase, Result, Store,
    StoreEvent, StoreFilter, StoreRef,
    backup::{Backup, BackupSchedule, BackupTrigger},
    engine::{Engine, Operation},
    page,
    ports::{
        ArchiveStore, BackupFilter, EngineCatalog, SecretReader, StoreDriver, StoreRepository,
    },
    tenancy::{Caller, Scope},
    validate,
};

/// A create request as received, before validation.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// Proposed name.
    pub name: String,
    /// Proposed engine id.
    pub engine: String,
    /// Engine configuration.
    pub config: Config,
    /// Idempotency key; empty for none.
    pub request_id: String,
    /// Owner (`tenants/<id>`); empty for the caller's tenant.
    pub tenant: String,
    /// Extra host names to serve the store at.
    pub custom_domains: Vec<String>,
    /// A clone: the backup id (as sent) to start from; empty for none.
    pub from_backup: String,
    /// Scheduled backups as sent (`None` or an empty cron: none).
    pub backup_schedule: Option<ScheduleRequest>,
}

/// A backup schedule as received, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScheduleRequest {
    /// 5-field cron expression, UTC.
    pub cron: String,
    /// Scheduled backups to keep (0: the default).
    pub retention: i32,
}

/// A store's admin login, revealed to its own tenant.
///
/// `Debug` prints no password: these values must not reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The store's id.
    pub store_id: uuid::Uuid,
    /// Where to log in (the store's admin URL).
    pub login_url: String,
    /// The login name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The Secret the values come from, `<namespace>/<name>`.
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("store_id", &self.store_id)
            .field("login_url", &self.login_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("secret", &self.secret)
            .finish()
    }
}

/// The Secret keys of a credentials Secret: `password`, and `username` when
/// the engine stores one.
pub const PASSWORD_KEY: &str = "password";
/// See [`PASSWORD_KEY`].
pub const USERNAME_KEY: &str = "username";

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page; empty on the last.
    pub next_page_token: String,
}

/// The store use cases: validate, apply the lifecycle rules and persist.
/// A reconciler learns of each committed change from the change log; a
/// control plane without one hands changes to its [`StoreDriver`].
#[derive(Clone)]
pub struct StoreService {
    repo: Arc<dyn StoreRepository>,
    engines: Arc<dyn EngineCatalog>,
    secrets: Arc<dyn SecretReader>,
    driver: Option<Arc<dyn StoreDriver>>,
    platform_domain: String,
    archives: Option<Arc<dyn ArchiveStore>>,
}

impl StoreService {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn StoreRepository>,
        engines: Arc<dyn EngineCatalog>,
        secrets: Arc<dyn SecretReader>,
    ) -> Self {
        Self {
            repo,
            engines,
            secrets,
            driver: None,
            platform_domain: String::new(),
            archives: None,
        }
    }

    /// Removes a deleted backup's archive from `archives`.
    pub fn with_archives(mut self, archives: Arc<dyn ArchiveStore>) -> Self {
        self.archives = Some(archives);
        self
    }

    /// The domain every store is served under (`<name>.<domain>`): custom
    /// domains under it are refused, since those names are the stores'.
    pub fn with_platform_domain(mut self, domain: impl Into<String>) -> Self {
        self.platform_domain = domain.into();
        self
    }

    /// Hands every change of a store's desired state to `driver` too (for
    /// a control plane without a reconciler).
    pub fn with_driver(mut self, driver: Arc<dyn StoreDriver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Applies a change of the desired state and hands the store to the
    /// driver, if any.
    async fn change(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &super::ports::ChangeFn<'_>,
    ) -> Result<Store> {
        let store = self.repo.update(scope, store, change).await?;
        self.changed(&store).await;
        Ok(store)
    }

    async fn changed(&self, store: &Store) {
        if let Some(driver) = &self.driver {
            driver.store_changed(store).await;
        }
    }

    /// The repository, for watchers.
    pub fn repository(&self) -> &Arc<dyn StoreRepository> {
        &self.repo
    }

    /// The engine catalog.
    pub fn engines(&self) -> &Arc<dyn EngineCatalog> {
        &self.engines
    }

    /// Validates and creates a store, or returns the original one for a
    /// retried idempotent request.
    pub async fn create(&self, caller: &Caller, req: CreateRequest) -> Result<Store> {
        let mut violations = Vec::new();
        let tenant = if req.tenant.is_empty() {
            caller.tenant.clone()
        } else {
            match validate::tenant_ref(&req.tenant) {
                Ok(tenant) => tenant,
                Err(why) => {
                    violations.push(FieldViolation::new("tenant", why));
                    caller.tenant.clone()
                }
            }
        };
        if let Err(why) = validate::store_name(&req.name) {
            violations.push(FieldViolation::new("name", why));
        }
        if let Err(why) = validate::request_id(&req.request_id) {
            violations.push(FieldViolation::new("request_id", why));
        }
        let schedule = match &req.backup_schedule {
            Some(r) => match BackupSchedule::parse(&r.cron, r.retention, "backup_schedule") {
                Ok(schedule) => schedule,
                Err(Error::InvalidArgument(v)) => {
                    violations.extend(v);
                    None
                }
                Err(other) => return Err(other),
            },
            None => None,
        };
        // The key's fingerprint is the request as sent (a clone's engine and
        // configuration are filled in from its backup below).
        let hash = request_hash(&req);
        let mut req = req;
        let source = if req.from_backup.is_empty() {
            None
        } else {
            match uuid::Uuid::parse_str(&req.from_backup) {
                Err(_) => {
                    violations.push(FieldViolation::new(
                        "from_backup",
                        "is not a backup id (a UUID)",
                    ));
                    None
                }
                Ok(id) => {
                    let backup = self.repo.backup(&Scope::Tenant(tenant.clone()), id).await?;
                    if req.engine.is_empty() {
                        req.engine = backup.engine.clone();
                    } else if req.engine != backup.engine {
                        violations.push(FieldViolation::new(
                            "engine",
                            format!(
                                "must be {} (the backup's engine) or empty for a clone",
                                backup.engine
                            ),
                        ));
                    }
                    if req.config.is_empty() {
                        req.config = backup.config.clone();
                    }
                    Some(backup)
                }
            }
        };
        if req.engine.is_empty() {
            violations.push(FieldViolation::new("engine", "is required"));
        } else {
            match self.engines.validate_config(&req.engine, &req.config).await {
                None => {
                    let known: Vec<String> =
                        self.engines.engines().into_iter().map(|e| e.id).collect();
                    let known = if known.is_empty() {
                        "no engines are installed".to_owned()
                    } else {
                        format!("known engines: {}", known.join(", "))
                    };
                    violations.push(FieldViolation::new(
                        "engine",
                        format!("unknown engine {:?}; {known}", req.engine),
                    ));
                }
                Some(config_violations) => violations.extend(config_violations),
            }
        }
        violations.extend(validate::custom_domains(
            &req.custom_domains,
            &self.platform_domain,
            "custom_domains",
        ));
        if !req.custom_domains.is_empty()
            && let Some(engine) = self
                .engines
                .engines()
                .into_iter()
                .find(|e| e.id == req.engine)
            && !engine_serves_custom_domains(&engine)
        {
            violations.push(FieldViolation::new(
                "custom_domains",
                format!(
                    "engine {} is built against plugin API 0.1, which has no custom domains",
                    engine.id
                ),
            ));
        }
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        if let Some(backup) = &source {
            backup.check_restorable(&req.engine)?;
            if let Some(engine) = self
                .engines
                .engines()
                .into_iter()
                .find(|e| e.id == req.engine)
                && !engine.supports(Operation::Restore)
            {
                return Err(not_supported(
                    &backup.resource_name(),
                    &engine,
                    Operation::Restore,
                ));
            }
        }
        if tenant != caller.tenant && !caller.is_admin() {
            return Err(Error::PermissionDenied {
                reason: "OTHER_TENANT",
                message: format!(
                    "only administrators may create stores for another tenant ({})",
                    tenant.resource_name()
                ),
            });
        }

        let key = (!req.request_id.is_empty()).then(|| IdempotencyKey {
            request_id: req.request_id.clone(),
            request_hash: hash,
        });
        let new = NewStore {
            tenant,
            name: req.name,
            engine: req.engine,
            config: req.config,
            custom_domains: req.custom_domains,
            from_backup: source.map(|b| b.id),
            backup_schedule: schedule,
        };
        match self.repo.create(new, key).await? {
            super::ports::Created::New(store) => {
                self.changed(&store).await;
                Ok(store)
            }
            super::ports::Created::Replayed(store) => Ok(store),
        }
    }

    /// One store in scope.
    pub async fn get(&self, scope: &Scope, store: &StoreRef) -> Result<Store> {
        self.repo.get(scope, store).await
    }

    /// The admin credentials of a store, for its own tenant only: a member
    /// of another tenant does not see the store (NOT_FOUND); an
    /// administrator of another tenant sees it but gets PERMISSION_DENIED,
    /// because a platform operator reads tenants' shops only through the
    /// cluster, where its own access rules and audit apply.
    ///
    /// The login name is the Secret's `username` when the engine stores one,
    /// else the configuration's `admin_email` (both shipped engines log in by
    /// e-mail: WordPress accepts it at `wp-login.php`, Medusa's admin asks
    /// for it).
    pub async fn reveal_credentials(
        &self,
        caller: &Caller,
        store: &StoreRef,
    ) -> Result<Credentials> {
        let store = self.repo.get(&caller.scope(), store).await?;
        if store.tenant != caller.tenant {
            return Err(Error::PermissionDenied {
                reason: "OWN_TENANT_ONLY",
                message: format!(
                    "the credentials of store {:?} are revealed only to its own tenant ({})",
                    store.name,
                    store.tenant.resource_name()
                ),
            });
        }
        let Some(secret) = store.credentials_secret.clone() else {
            return Err(Error::FailedPrecondition {
                kind: "CREDENTIALS_NOT_READY",
                subject: format!("stores/{}", store.id),
                description: format!(
                    "store {:?} has no credentials yet (phase {}); its engine reports them \
                     once the store is Ready",
                    store.name,
                    store.phase.as_str()
                ),
            });
        };
        let namespace = store.namespace();
        let mut values = self
            .secrets
            .secret_values(&store, &secret)
            .await?
            .ok_or_else(|| Error::FailedPrecondition {
                kind: "CREDENTIALS_MISSING",
                subject: format!("stores/{}", store.id),
                description: format!(
                    "Secret {namespace}/{secret} is not in the cluster; retry the store to recreate it"
                ),
            })?;
        let password = values
            .remove(PASSWORD_KEY)
            .ok_or_else(|| Error::FailedPrecondition {
                kind: "CREDENTIALS_INCOMPLETE",
                subject: format!("stores/{}", store.id),
                description: format!(
                    "Secret {}/{secret} has no `{PASSWORD_KEY}` key",
                    store.namespace()
                ),
            })?;
        let username = values.remove(USERNAME_KEY).unwrap_or_else(|| {
            store
                .config
                .get("admin_email")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        });
        Ok(Credentials {
            store_id: store.id,
            login_url: store.urls.admin.clone(),
            username,
            password,
            secret: format!("{}/{secret}", store.namespace()),
        })
    }

    /// A page of the stores in scope.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: &StoreFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Store>> {
        let size = validate::page_size(page_size, "page_size")
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        let mut phases: Vec<&str> = filter.phases.iter().map(|p| p.as_str()).collect();
        phases.sort_unstable();
        phases.dedup();
        let engine = filter.engine.as_deref().unwrap_or("");
        let mut parts = vec!["stores", engine];
        parts.extend(phases);
        let fingerprint = page::fingerprint(&parts);
        let after = page::decode::<uuid::Uuid>(page_token, &fingerprint)
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        // One extra row tells whether another page exists.
        let mut items = self.repo.list(scope, filter, after, size + 1).await?;
        let next_page_token = next_token(&mut items, size, |s| s.id, &fingerprint);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Starts deleting a store. Deleting a store already being deleted
    /// returns it unchanged. With an etag, the store must be unchanged since.
    pub async fn delete(&self, scope: &Scope, store: &StoreRef, etag: &str) -> Result<Store> {
        let etag = etag.to_owned();
        self.change(scope, store, &move |s: &mut Store| {
            s.check_etag(&etag)?;
            Ok(s.request_deletion())
        })
        .await
    }

    /// Provisions a failed store again.
    pub async fn retry(&self, scope: &Scope, store: &StoreRef) -> Result<Store> {
        self.change(scope, store, &|s: &mut Store| s.retry().map(Some))
            .await
    }

    /// Moves a store to a new configuration (validated like a create) and
    /// to the installed engine version.
    pub async fn upgrade(
        &self,
        scope: &Scope,
        store: &StoreRef,
        config: Option<Config>,
        etag: &str,
    ) -> Result<Store> {
        let current = self.repo.get(scope, store).await?;
        if let Some(config) = &config {
            match self.engines.validate_config(&current.engine, config).await {
                Some(violations) if violations.is_empty() => {}
                Some(violations) => return Err(Error::InvalidArgument(violations)),
                None => {
                    return Err(Error::FailedPrecondition {
                        kind: "ENGINE_NOT_INSTALLED",
                        subject: format!("stores/{}", current.id),
                        description: format!("engine {} is not installed", current.engine),
                    });
                }
            }
        }
        let etag = etag.to_owned();
        self.change(scope, store, &move |s: &mut Store| {
            s.check_etag(&etag)?;
            s.upgrade(config.clone()).map(Some)
        })
        .await
    }

    /// Pauses a store, when its engine can.
    pub async fn suspend(&self, scope: &Scope, store: &StoreRef, etag: &str) -> Result<Store> {
        let etag = etag.to_owned();
        self.change(scope, store, &|s: &mut Store| {
            self.require(s, Operation::Suspend)?;
            s.check_etag(&etag)?;
            s.suspend()
        })
        .await
    }

    /// Brings a paused store back.
    pub async fn resume(&self, scope: &Scope, store: &StoreRef, etag: &str) -> Result<Store> {
        let etag = etag.to_owned();
        self.change(scope, store, &|s: &mut Store| {
            self.require(s, Operation::Resume)?;
            s.check_etag(&etag)?;
            s.resume()
        })
        .await
    }

    /// Replaces a store's custom domains (validated here; unique on the
    /// platform, which the repository checks in the same transaction).
    pub async fn set_custom_domains(
        &self,
        scope: &Scope,
        store: &StoreRef,
        domains: Vec<String>,
        etag: &str,
    ) -> Result<Store> {
        let violations =
            validate::custom_domains(&domains, &self.platform_domain, "custom_domains");
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        let etag = etag.to_owned();
        // The store's engine is checked on the record the write reads: no
        // read of its own before the transaction.
        self.change(scope, store, &|s: &mut Store| {
            if !domains.is_empty()
                && let Some(engine) = self.engine_of(s)
                && !engine_serves_custom_domains(&engine)
            {
                return Err(Error::FailedPrecondition {
                    kind: "OPERATION_NOT_SUPPORTED",
                    subject: format!("stores/{}", s.id),
                    description: format!(
                        "engine {} is built against plugin API 0.1, which has no custom domains",
                        engine.id
                    ),
                });
            }
            s.check_etag(&etag)?;
            s.set_custom_domains(domains.clone())
        })
        .await
    }

    fn engine_of(&self, store: &Store) -> Option<Engine> {
        self.engines
            .engines()
            .into_iter()
            .find(|e| e.id == store.engine)
    }

    /// Refuses `operation` on `store` when its engine does not implement it
    /// (`FAILED_PRECONDITION` naming the engine; the plugin is not called).
    /// Asked inside the write, on the record it changes.
    fn require(&self, store: &Store, operation: Operation) -> Result<()> {
        let Some(engine) = self.engine_of(store) else {
            return Err(Error::FailedPrecondition {
                kind: "ENGINE_NOT_INSTALLED",
                subject: format!("stores/{}", store.id),
                description: format!("engine {} is not installed", store.engine),
            });
        };
        if engine.supports(operation) {
            return Ok(());
        }
        Err(not_supported(
            &format!("stores/{}", store.id),
            &engine,
            operation,
        ))
    }

    /// Starts a backup of a Ready store whose engine can back up.
    pub async fn create_backup(&self, scope: &Scope, store: &StoreRef) -> Result<Backup> {
        self.start_backup(scope, store, BackupTrigger::Manual, None)
            .await
    }

    /// Starts a backup for `trigger` (a scheduled one names its `slot`).
    pub async fn start_backup(
        &self,
        scope: &Scope,
        store: &StoreRef,
        trigger: BackupTrigger,
        slot: Option<String>,
    ) -> Result<Backup> {
        let id = uuid::Uuid::now_v7();
        let store = self
            .change(scope, store, &|s: &mut Store| {
                self.require(s, Operation::Backup)?;
                s.start_backup(id, trigger, slot.clone(), chrono::Utc::now())
                    .map(Some)
            })
            .await?;
        self.repo
            .backup(&Scope::Tenant(store.tenant.clone()), id)
            .await
    }

    /// One backup in scope.
    pub async fn backup(&self, scope: &Scope, id: &str) -> Result<Backup> {
        self.repo.backup(scope, parse_backup_id(id, "id")?).await
    }

    /// A page of the backups in scope, newest first.
    pub async fn backups(
        &self,
        scope: &Scope,
        filter: &BackupFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Backup>> {
        let size = validate::page_size(page_size, "page_size")
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        let store_id = filter.store_id.map(|id| id.to_string()).unwrap_or_default();
        let fingerprint = page::fingerprint(&[
            "backups",
            &store_id,
            filter.store_name.as_deref().unwrap_or(""),
        ]);
        let before = page::decode::<uuid::Uuid>(page_token, &fingerprint)
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        let mut items = self.repo.backups(scope, filter, before, size + 1).await?;
        let next_page_token = next_token(&mut items, size, |b| b.id, &fingerprint);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Deletes a finished backup and then its archive. An archive that
    /// cannot be removed is logged: the record is gone either way, and a
    /// leftover file only costs space.
    pub async fn delete_backup(&self, scope: &Scope, id: &str) -> Result<Backup> {
        let backup = self
            .repo
            .delete_backup(scope, parse_backup_id(id, "id")?)
            .await?;
        if let Some(archives) = &self.archives
            && let Err(err) = archives.remove(backup.id).await
        {
            warn!(backup = %backup.id, error = %err, "backup deleted but its archive could not be removed");
        }
        Ok(backup)
    }

    /// Replaces a Ready store's data with a backup's (of its engine).
    pub async fn restore(
        &self,
        scope: &Scope,
        store: &StoreRef,
        backup: &str,
        etag: &str,
    ) -> Result<Store> {
        let id = parse_backup_id(backup, "backup")?;
        let backup = self.repo.backup(scope, id).await?;
        let etag = etag.to_owned();
        // The repository re-checks, in the write, that the backup is still
        // there (a concurrent delete loses).
        self.change(scope, store, &|s: &mut Store| {
            self.require(s, Operation::Restore)?;
            s.check_etag(&etag)?;
            s.start_restore(&backup, chrono::Utc::now()).map(Some)
        })
        .await
    }

    /// Sets or removes a store's scheduled backups.
    pub async fn set_backup_schedule(
        &self,
        scope: &Scope,
        store: &StoreRef,
        schedule: &ScheduleRequest,
        etag: &str,
    ) -> Result<Store> {
        let schedule = BackupSchedule::parse(&schedule.cron, schedule.retention, "schedule")?;
        let etag = etag.to_owned();
        self.change(scope, store, &|s: &mut Store| {
            if schedule.is_some() {
                self.require(s, Operation::Backup)?;
            }
            s.check_etag(&etag)?;
            s.set_backup_schedule(schedule.clone())
        })
        .await
    }

    /// Goes back to the configuration before the last upgrade.
    pub async fn rollback(&self, scope: &Scope, store: &StoreRef) -> Result<Store> {
        self.change(scope, store, &|s: &mut Store| s.rollback().map(Some))
            .await
    }

    /// A page of the store's timeline.
    pub async fn events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<StoreEvent>> {
        let size = validate::page_size(page_size, "page_size")
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        let fingerprint = page::fingerprint(&["events", &store.to_string()]);
        let after = page::decode::<i64>(page_token, &fingerprint)
            .map_err(|v| Error::InvalidArgument(vec![v]))?;
        let mut items = self.repo.events(scope, store, after, size + 1).await?;
        let next_page_token = next_token(&mut items, size, |e| e.id, &fingerprint);
        Ok(Page {
            items,
            next_page_token,
        })
    }
}

/// Trims the look-ahead row and returns the token for the next page.
fn next_token<T, K: serde::Serialize>(
    items: &mut Vec<T>,
    size: u64,
    key: impl Fn(&T) -> K,
    fingerprint: &str,
) -> String {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if items.len() <= size {
        return String::new();
    }
    items.truncate(size);
    items
        .last()
        .map(|last| page::encode(&key(last), fingerprint))
        .unwrap_or_default()
}

/// Fingerprint of what a create asks for, independent of key order in the config.
/// Whether the engine's plugin sees custom domains: plugin API 0.2 and
/// later hand them over; a 0.1 plugin would silently not serve them.
fn engine_serves_custom_domains(engine: &Engine) -> bool {
    !engine.plugin_api.starts_with("0.1.")
}

fn request_hash(req: &CreateRequest) -> String {
    let mut canonical = serde_json::json!({
        "name": req.name,
        "engine": req.engine,
        "config": canonical(&serde_json::Value::Object(req.config.clone())),
    });
    // Only when set, so keys remembered before these fields existed still
    // match.
    if !req.custom_domains.is_empty() {
        canonical["custom_domains"] = serde_json::json!(req.custom_domains);
    }
    if !req.from_backup.is_empty() {
        canonical["from_backup"] = serde_json::json!(req.from_backup);
    }
    if let Some(schedule) = &req.backup_schedule {
        canonical["backup_schedule"] = serde_json::json!([schedule.cron, schedule.retention]);
    }
    page::hex(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// Sorts object keys recursively so equal configurations hash equally.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: std::collections::BTreeMap<_, _> =
                map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(canonical).collect())
        }
        other => other.clone(),
    }
}

/// The driver used while no cluster backend is configured: there are no
/// cluster resources, so a deletion completes at once and provisioning
/// waits for a backend.
pub struct NoCluster {
    repo: Arc<dyn StoreRepository>,
}

impl NoCluster {
    /// A driver finishing deletions through `repo`.
    pub fn new(repo: Arc<dyn StoreRepository>) -> Self {
        Self { repo }
    }
}

#[async_trait]
impl StoreDriver for NoCluster {
    async fn store_changed(&self, store: &Store) {
        if store.phase != Phase::Deleting {
            return;
        }
        let event = NewEvent {
            reason: "Deleted".into(),
            message: "no cluster resources to remove; store record deleted".into(),
            outcome: super::Outcome::Succeeded,
            duration_ms: 0,
        };
        if let Err(err) = self.repo.remove(store.id, event).await {
            // The store stays Deleting; a later delete call finishes it.
            warn!(store = %store.id, error = %err, "could not finish deleting store");
        }
    }
}

#[async_trait]
impl SecretReader for NoCluster {
    async fn secret_values(
        &self,
        store: &Store,
        _secret: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        Err(Error::FailedPrecondition {
            kind: "NO_CLUSTER",
            subject: format!("stores/{}", store.id),
            description: "this control plane only records stores (no cluster or no engine \
                          plugins): there is no Secret to read"
                .into(),
        })
    }
}

/// `FAILED_PRECONDITION` for an operation `engine` does not implement.
fn not_supported(subject: &str, engine: &Engine, operation: Operation) -> Error {
    Error::FailedPrecondition {
        kind: "OPERATION_NOT_SUPPORTED",
        subject: subject.to_owned(),
        description: format!(
            "engine {} {} does not support {}",
            engine.id,
            engine.version,
            operation.as_str()
        ),
    }
}

/// A backup id from a request field.
fn parse_backup_id(id: &str, field: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| {
        Error::InvalidArgument(vec![FieldViolation::new(
            field,
            if id.is_empty() {
                "is required".to_owned()
            } else {
                format!("{id:?} is not a backup id (a UUID)")
            },
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_hash_ignores_config_key_order() {
        let a: Config = serde_json::from_str(r#"{"a":1,"b":{"x":1,"y":2}}"#).unwrap_or_default();
        let b: Config = serde_json::from_str(r#"{"b":{"y":2,"x":1},"a":1}"#).unwrap_or_default();
        let req = |config| CreateRequest {
            name: "shop".into(),
            engine: "e".into(),
            config,
            request_id: "k".into(),
            tenant: String::new(),
            custom_domains: Vec::new(),
            from_backup: String::new(),
            backup_schedule: None,
        };
        assert_eq!(request_hash(&req(a.clone())), request_hash(&req(b)));
        let mut other = req(a);
        other.name = "other".into();
        assert_ne!(request_hash(&other), request_hash(&req(Config::new())));
    }
}
