//! The reconciler, one run at a time, against the simulated cluster (in
//! process), SQLite in memory and a scripted engine: no binary, no SQL by
//! hand, no wall-clock assertions. Each test drives [`run_once`] and checks
//! what the run returned (its requeue), the store's record, the engine's
//! calls and the cluster.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails by panicking"
)]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api,
    runtime::wait::{await_condition, conditions},
};
use storeplane::{
    cluster::KubeOps,
    domain::{
        Config, Error as DomainError, NewStore, Phase, Store, StoreRef, TenantId,
        backup::{BackupPhase, BackupTrigger},
        conditions::{ENGINE_DEPROVISIONED, PRE_UPGRADE_BACKUP},
        ports::{ReleaseStore, StoreRepository},
        release::{ObjectRef, Revision},
        tenancy::{GlobalLimits, Scope},
    },
    metrics::Metrics,
    persistence,
    reconcile::{
        Context, DEADLINE_SLACK, EngineRuntime, Next, PlatformConfig,
        backoff::Policy,
        drift::{Drift, DriftLog},
        run_once,
    },
};
use storeplane_plugin_host::{
    Archive, CallError, JobPhase, JobReport, Observed, ObservedPhase, Operation, StoreContext,
};
use storeplane_sim_cluster::{SimCluster, SimConfig};
use uuid::Uuid;

/// One call the engine received.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Provision { generation: i64, config: Config },
    Upgrade { from: String },
    Observe,
    Deprovision,
    Suspend { generation: i64, hosts: Vec<String> },
    Resume { generation: i64 },
    Backup { archive: String },
}

/// An engine whose answers the test scripts: provision and upgrade answer
/// from `failures` (then succeed), observe from `observations` (then Ready).
#[derive(Default)]
struct ScriptedEngine {
    version: Mutex<Option<String>>,
    failures: Mutex<VecDeque<CallError>>,
    observations: Mutex<VecDeque<ObservedPhase>>,
    deprovision_failure: Mutex<Option<CallError>>,
    calls: Mutex<Vec<Call>>,
    /// The optional operations it lists (none unless a test says).
    operations: Mutex<Vec<Operation>>,
    /// Where its backup "Job" uploads the archive (none: it uploads
    /// nothing, like a Job whose transfer went nowhere).
    uploads_to: Mutex<Option<Arc<storeplane::archives::Archives>>>,
}

impl ScriptedEngine {
    fn new(version: &str) -> Arc<Self> {
        let engine = Self::default();
        *engine.version.lock().unwrap() = Some(version.to_owned());
        Arc::new(engine)
    }

    fn fail_next(&self, err: CallError) {
        self.failures.lock().unwrap().push_back(err);
    }

    fn observe_next(&self, phase: ObservedPhase) {
        self.observations.lock().unwrap().push_back(phase);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, call: Call) -> Result<(), CallError> {
        self.calls.lock().unwrap().push(call);
        self.failures
            .lock()
            .unwrap()
            .pop_front()
            .map_or(Ok(()), Err)
    }
}

#[async_trait]
impl EngineRuntime for ScriptedEngine {
    fn version(&self, _engine: &str) -> Option<String> {
        self.version.lock().unwrap().clone()
    }

    async fn provision(&self, _engine: &str, store: &StoreContext) -> Result<(), CallError> {
        self.answer(Call::Provision {
            generation: store.generation,
            config: store.config.as_object().cloned().unwrap_or_default(),
        })
    }

    async fn upgrade(
        &self,
        _engine: &str,
        _store: &StoreContext,
        from: &str,
    ) -> Result<(), CallError> {
        self.answer(Call::Upgrade {
            from: from.to_owned(),
        })
    }

    async fn observe(&self, _engine: &str, store: &StoreContext) -> Result<Observed, CallError> {
        self.calls.lock().unwrap().push(Call::Observe);
        let phase = self
            .observations
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(ObservedPhase::Ready);
        Ok(Observed {
            phase,
            message: format!("{phase:?}"),
            reason: if phase == ObservedPhase::Failed {
                "Broken".into()
            } else {
                String::new()
            },
            storefront_url: Some(format!("http://{}", store.host)),
            admin_url: Some(format!("http://{}/admin", store.host)),
            credentials_secret: Some("admin".into()),
        })
    }

    async fn deprovision(&self, _engine: &str, _store: &StoreContext) -> Result<(), CallError> {
        self.calls.lock().unwrap().push(Call::Deprovision);
        self.deprovision_failure
            .lock()
            .unwrap()
            .take()
            .map_or(Ok(()), Err)
    }

    async fn suspend(&self, _engine: &str, store: &StoreContext) -> Result<(), CallError> {
        assert!(store.suspended, "suspend is for a store to be paused");
        self.answer(Call::Suspend {
            generation: store.generation,
            hosts: store.extra_hosts.clone(),
        })
    }

    async fn resume(&self, _engine: &str, store: &StoreContext) -> Result<(), CallError> {
        assert!(!store.suspended, "resume is for a store to run");
        self.answer(Call::Resume {
            generation: store.generation,
        })
    }

    fn operations(&self, _engine: &str) -> Vec<Operation> {
        self.operations.lock().unwrap().clone()
    }

    /// Its Job "succeeds" at once; whether the backup did is the
    /// platform's to find (the archive must have reached its storage).
    async fn backup(
        &self,
        _engine: &str,
        _store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError> {
        self.answer(Call::Backup {
            archive: archive.id.clone(),
        })?;
        let archives = self.uploads_to.lock().unwrap().clone();
        if let Some(archives) = archives {
            use tower::ServiceExt as _;
            let id = Uuid::parse_str(&archive.id).unwrap();
            let url = archives.url(id, storeplane::archives::Direction::Upload);
            let path = url.strip_prefix("http://cp").unwrap().to_owned();
            let request = axum::http::Request::put(path)
                .body(axum::body::Body::from("a database dump"))
                .unwrap();
            let response = archives.router().oneshot(request).await.unwrap();
            assert_eq!(response.status(), axum::http::StatusCode::CREATED);
        }
        Ok(JobReport {
            phase: JobPhase::Succeeded,
            message: "Job complete".into(),
            reason: String::new(),
            size_bytes: None,
            sha256: None,
        })
    }

    async fn restore(
        &self,
        engine: &str,
        _store: &StoreContext,
        _archive: &Archive,
    ) -> Result<JobReport, CallError> {
        Err(CallError::Unsupported {
            plugin: engine.to_owned(),
            operation: Operation::Restore,
        })
    }
}

struct Fixture {
    ctx: Context,
    releases: Arc<dyn ReleaseStore>,
    engine: Arc<ScriptedEngine>,
    client: kube::Client,
    _cluster: SimCluster,
}

/// The policy the tests assert delays from: no jitter, so each delay is
/// exactly the policy's nominal one.
const BACKOFF: Policy = Policy {
    jitter: 0.0,
    ..Policy::DEFAULT
};

async fn fixture(platform: impl FnOnce(&mut PlatformConfig)) -> Fixture {
    let db = persistence::connect("sqlite::memory:").await.unwrap();
    persistence::migrate(&db).await.unwrap();
    let releases: Arc<dyn ReleaseStore> = Arc::new(persistence::ReleaseRepository::new(db.clone()));
    let repo: Arc<dyn StoreRepository> = persistence::repository(
        db,
        Arc::new(tokio::sync::Notify::new()),
        1000,
        GlobalLimits::default(),
    );
    let cluster = SimCluster::new(SimConfig::instant());
    let client = cluster.client();
    let engine = ScriptedEngine::new("1.0.0");
    let mut config = PlatformConfig::local();
    config.max_attempts = 3;
    platform(&mut config);
    let ctx = Context {
        backoff: BACKOFF,
        // Two corrections, then one an hour: the limit is reached in a test.
        drift: DriftLog::new(2, Duration::from_secs(3600)),
        ..Context::new(
            repo,
            Arc::clone(&engine) as Arc<dyn EngineRuntime>,
            Arc::clone(&releases),
            Arc::new(KubeOps::new(client.clone())),
            config,
            "replica-a".into(),
            Arc::new(Metrics::new()),
            Uuid::now_v7(),
        )
    };
    Fixture {
        ctx,
        releases,
        engine,
        client,
        _cluster: cluster,
    }
}

impl Fixture {
    /// A new store, after its first run (which creates its namespace and
    /// yields).
    async fn create(&self, name: &str) -> Uuid {
        let id = self.create_new(name).await;
        assert_eq!(run_once(&self.ctx, id).await, Next::Yield);
        id
    }

    /// A new store's record, before any run.
    async fn create_new(&self, name: &str) -> Uuid {
        let mut config = Config::new();
        config.insert("title".into(), "Shop".into());
        self.ctx
            .repo
            .create(
                NewStore {
                    tenant: TenantId::default_tenant(),
                    name: name.into(),
                    engine: "scripted".into(),
                    config,
                    custom_domains: Vec::new(),
                    from_backup: None,
                    backup_schedule: None,
                },
                None,
            )
            .await
            .unwrap()
            .into_store()
            .id
    }

    async fn store(&self, id: Uuid) -> Option<Store> {
        match self.ctx.repo.get(&Scope::All, &StoreRef::Id(id)).await {
            Ok(store) => Some(store),
            Err(DomainError::NotFound { .. }) => None,
            Err(err) => panic!("{err}"),
        }
    }

    /// Applies a transition as the API would.
    async fn change(
        &self,
        id: Uuid,
        change: impl Fn(&mut Store) -> storeplane::domain::Result<Option<storeplane::domain::NewEvent>>
        + Send
        + Sync,
    ) {
        self.ctx
            .repo
            .update(&Scope::All, &StoreRef::Id(id), &change)
            .await
            .unwrap();
    }

    /// The reasons and messages of the store's timeline.
    async fn timeline(&self, id: Uuid) -> Vec<(String, String)> {
        self.ctx
            .repo
            .events(&Scope::All, &StoreRef::Id(id), None, 500)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.reason, e.message))
            .collect()
    }

    async fn namespace(&self, name: &str) -> Option<Namespace> {
        Api::<Namespace>::all(self.client.clone())
            .get_opt(&format!("store-{name}"))
            .await
            .unwrap()
    }

    /// Runs until the reconciler has nothing more to do now, at most `max`
    /// runs; returns what each run said.
    async fn run_until_done(&self, id: Uuid, max: usize) -> Vec<Next> {
        let mut nexts = Vec::new();
        for _ in 0..max {
            let next = run_once(&self.ctx, id).await;
            nexts.push(next);
            if next == Next::Done {
                break;
            }
        }
        nexts
    }
}

fn retryable(message: &str) -> CallError {
    CallError::Plugin {
        reason: "Busy".into(),
        message: message.into(),
        retryable: true,
    }
}

#[tokio::test]
async fn a_fresh_store_gets_its_namespace_first_and_is_ready_after_its_next_run() {
    let f = fixture(|_| {}).await;
    let id = f.create_new("fresh").await;
    // The first run creates the namespace and nothing else: no plugin call,
    // no write to the record.
    assert_eq!(run_once(&f.ctx, id).await, Next::Yield);
    assert!(f.namespace("fresh").await.is_some());
    assert!(f.engine.calls().is_empty());
    let first = f.store(id).await.unwrap();
    assert_eq!(
        (first.phase, first.provisioning_since),
        (Phase::Provisioning, None)
    );
    assert_eq!(
        f.timeline(id).await.len(),
        1,
        "only the creation is on record"
    );
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Ready);
    assert_eq!(store.observed_generation, store.generation);
    // Three writes: the start with the prepared namespace, the engine's
    // step, Ready.
    assert_eq!(store.resource_version, first.resource_version + 3);
    let reasons: Vec<String> = f.timeline(id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        reasons,
        [
            "Created",
            "ProvisioningStarted",
            "NamespacePrepared",
            "EngineProvisioned",
            "Ready"
        ]
    );
    assert_eq!(store.engine_version, "1.0.0");
    assert_eq!(store.urls.storefront, "http://fresh.localhost");
    assert_eq!(store.credentials_secret.as_deref(), Some("admin"));
    assert_eq!(
        f.engine.calls(),
        [
            Call::Provision {
                generation: 1,
                config: store.config.clone()
            },
            Call::Observe
        ]
    );
    let namespace = f.namespace("fresh").await.expect("the namespace exists");
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("storeplane.dev/store").map(String::as_str),
        Some(id.to_string().as_str())
    );
    // Nothing more to do: a second run calls nothing.
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(f.engine.calls().len(), 2);
}

#[tokio::test]
async fn a_retryable_failure_backs_off_by_the_policy_and_counts_attempts() {
    let f = fixture(|_| {}).await;
    let id = f.create("flaky").await;
    f.engine.fail_next(retryable("the cluster is busy"));
    f.engine.fail_next(retryable("still busy"));
    assert_eq!(run_once(&f.ctx, id).await, Next::After(BACKOFF.nominal(1)));
    assert_eq!(f.store(id).await.unwrap().attempts, 1);
    assert_eq!(run_once(&f.ctx, id).await, Next::After(BACKOFF.nominal(2)));
    let store = f.store(id).await.unwrap();
    assert_eq!((store.phase, store.attempts), (Phase::Provisioning, 2));
    // The third try works, and Ready clears the count.
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let store = f.store(id).await.unwrap();
    assert_eq!((store.phase, store.attempts), (Phase::Ready, 0));
}

#[tokio::test]
async fn the_last_allowed_attempt_fails_the_store() {
    let f = fixture(|p| p.max_attempts = 3).await;
    let id = f.create("doomed").await;
    for _ in 0..3 {
        f.engine.fail_next(retryable("no capacity"));
    }
    let nexts = f.run_until_done(id, 5).await;
    assert_eq!(
        nexts,
        [
            Next::After(BACKOFF.nominal(1)),
            Next::After(BACKOFF.nominal(2)),
            Next::Done
        ]
    );
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Failed);
    let failure = store.failure.unwrap();
    assert_eq!(failure.reason, "ProvisionFailed");
    assert!(
        failure.message.ends_with("(after 3 attempts)"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn the_provisioning_timeout_fires_on_time() {
    let f = fixture(|p| p.provision_timeout = Duration::ZERO).await;
    let id = f.create("slow").await;
    f.engine.observe_next(ObservedPhase::Provisioning);
    // Waiting on the workloads: the next run is due at the deadline (now),
    // not at the next resync.
    assert_eq!(run_once(&f.ctx, id).await, Next::After(DEADLINE_SLACK));
    assert_eq!(f.store(id).await.unwrap().phase, Phase::Provisioning);
    tokio::time::sleep(DEADLINE_SLACK).await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Failed);
    assert_eq!(store.failure.unwrap().reason, "ProvisioningTimedOut");
}

#[tokio::test]
async fn a_config_change_provisions_the_new_generation_and_a_new_version_upgrades() {
    let f = fixture(|_| {}).await;
    let id = f.create("evolving").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);

    let mut config = Config::new();
    config.insert("title".into(), "Better shop".into());
    let new_config = config.clone();
    f.change(id, move |s| s.upgrade(Some(new_config.clone())).map(Some))
        .await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(
        f.engine.calls()[2],
        Call::Provision {
            generation: 2,
            config
        }
    );

    // A new engine version: the store is moved from the version it runs.
    *f.engine.version.lock().unwrap() = Some("2.0.0".into());
    f.change(id, |s| s.upgrade(None).map(Some)).await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(
        f.engine.calls()[4],
        Call::Upgrade {
            from: "1.0.0".into()
        }
    );
    let store = f.store(id).await.unwrap();
    assert_eq!(
        (store.phase, store.generation, store.engine_version.as_str()),
        (Phase::Ready, 3, "2.0.0")
    );
}

#[tokio::test]
async fn an_upgrade_waits_for_its_backup_and_does_not_start_when_it_fails() {
    // No backup storage: every backup fails (`NoBackupStorage`).
    let f = fixture(|_| {}).await;
    f.engine.operations.lock().unwrap().push(Operation::Backup);
    let id = f.create("careful").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    *f.engine.version.lock().unwrap() = Some("2.0.0".into());
    f.change(id, |s| s.upgrade(None).map(Some)).await;
    run_once(&f.ctx, id).await;
    let calls = f.engine.calls();
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Upgrade { .. })),
        "{calls:?}"
    );
    let first = &f
        .ctx
        .repo
        .backups(&Scope::All, &Default::default(), None, 1)
        .await
        .unwrap()[0];
    assert_eq!(
        (first.phase, first.trigger, first.failure_reason.as_deref()),
        (
            BackupPhase::Failed,
            BackupTrigger::PreUpgrade,
            Some("NoBackupStorage")
        )
    );
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Failed);
    let failure = store.failure.clone().unwrap();
    assert_eq!(failure.reason, "PreUpgradeBackupFailed");
    assert!(
        failure.message.contains("still runs scripted 1.0.0"),
        "{}",
        failure.message
    );
    assert_eq!(store.operation, None, "the backup ended");

    // With storage whose archive arrived, the upgrade goes ahead after it.
    let dir = tempfile::tempdir().unwrap();
    let archives = Arc::new(
        storeplane::archives::Archives::open(dir.path(), "http://cp", Duration::from_secs(60))
            .unwrap(),
    );
    let f = Fixture {
        ctx: Context {
            archives: Some(Arc::clone(&archives)),
            ..f.ctx
        },
        ..f
    };
    f.change(id, |s| s.retry().map(Some)).await;
    // The scripted Job "succeeds" without uploading: no archive, no backup.
    run_once(&f.ctx, id).await;
    assert_eq!(f.store(id).await.unwrap().phase, Phase::Failed);
    let backup = match f.engine.calls().last() {
        Some(Call::Backup { archive }) => archive.clone(),
        other => panic!("no backup call: {other:?}"),
    };
    let backups = f
        .ctx
        .repo
        .backups(&Scope::All, &Default::default(), None, 10)
        .await
        .unwrap();
    let failed = backups.iter().find(|b| b.id.to_string() == backup).unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("ArchiveMissing"));
    assert_eq!(failed.trigger, BackupTrigger::PreUpgrade);

    // A Job that uploads: the backup succeeds with the stored archive's
    // measurements, then the upgrade runs.
    *f.engine.uploads_to.lock().unwrap() = Some(archives);
    f.change(id, |s| s.retry().map(Some)).await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let store = f.store(id).await.unwrap();
    assert_eq!(
        (store.phase, store.engine_version.as_str()),
        (Phase::Ready, "2.0.0")
    );
    assert!(store.is_done(PRE_UPGRADE_BACKUP));
    let calls = f.engine.calls();
    let n = calls.len();
    assert!(
        matches!(
            &calls[n - 3..],
            [Call::Backup { .. }, Call::Upgrade { .. }, Call::Observe]
        ),
        "{calls:?}"
    );
    let newest = &f
        .ctx
        .repo
        .backups(&Scope::All, &Default::default(), None, 1)
        .await
        .unwrap()[0];
    assert_eq!(newest.phase, BackupPhase::Succeeded);
    assert_eq!(newest.size_bytes, Some(15));
    assert_eq!(
        newest.engine_version, "1.0.0",
        "taken of the version before"
    );
}

#[tokio::test]
async fn teardown_deletes_the_namespace_before_the_record() {
    let f = fixture(|_| {}).await;
    let id = f.create("leaving").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert!(f.namespace("leaving").await.is_some());
    f.change(id, |s| Ok(s.request_deletion())).await;

    // The first run deprovisions and starts deleting the namespace; the
    // record stays while the namespace is there.
    let first = run_once(&f.ctx, id).await;
    assert_ne!(first, Next::Done, "the record went before its namespace");
    let store = f
        .store(id)
        .await
        .expect("the record outlives its namespace");
    assert_eq!(store.phase, Phase::Deleting);
    assert!(store.is_done(ENGINE_DEPROVISIONED));
    assert_eq!(f.engine.calls().last(), Some(&Call::Deprovision));

    // While the namespace terminates, runs wait for it (its watch would
    // wake them) and keep the record.
    let namespace = f.namespace("leaving").await;
    if let Some(namespace) = namespace {
        let uid = namespace.metadata.uid.unwrap_or_default();
        let api = Api::<Namespace>::all(f.client.clone());
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api, "store-leaving", conditions::is_deleted(&uid)),
        )
        .await
        .expect("the simulated cluster never finished deleting the namespace")
        .unwrap();
        assert!(f.store(id).await.is_some());
    }
    // Once the namespace is gone, the record goes.
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert!(f.store(id).await.is_none());
    assert_eq!(
        f.engine
            .calls()
            .iter()
            .filter(|c| **c == Call::Deprovision)
            .count(),
        1,
        "deprovisioned once"
    );
}

#[tokio::test]
async fn a_plugin_error_never_deletes_anything() {
    let f = fixture(|_| {}).await;
    let id = f.create("broken").await;
    f.engine.fail_next(CallError::Trapped {
        plugin: "scripted".into(),
        function: "provision",
        trap: "unreachable".into(),
    });
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let store = f
        .store(id)
        .await
        .expect("the failed store keeps its record");
    assert_eq!(store.phase, Phase::Failed);
    assert_eq!(store.failure.unwrap().reason, "PluginCrashed");
    assert!(
        f.namespace("broken").await.is_some(),
        "a plugin error deleted the namespace"
    );
    // A failed store is left alone: no further run touches it.
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert!(f.namespace("broken").await.is_some());

    // A deprovision that fails is recorded, and still no record goes
    // before its namespace.
    f.change(id, |s| Ok(s.request_deletion())).await;
    *f.engine.deprovision_failure.lock().unwrap() = Some(retryable("cannot reach the shop"));
    assert_ne!(run_once(&f.ctx, id).await, Next::Done);
    let store = f.store(id).await.expect("kept while the namespace goes");
    let deprovisioned = store.condition(ENGINE_DEPROVISIONED).unwrap();
    assert!(
        deprovisioned.message.contains("cannot reach the shop"),
        "{}",
        deprovisioned.message
    );
}

fn drift(kind: &str, name: &str, by: Option<&str>) -> Drift {
    Drift {
        kind: kind.into(),
        name: name.into(),
        release: "shop".into(),
        by: by.map(Into::into),
    }
}

fn provisions(engine: &ScriptedEngine) -> usize {
    engine
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Provision { .. }))
        .count()
}

#[tokio::test]
async fn a_hand_edit_of_a_ready_store_is_reapplied_and_recorded() {
    let f = fixture(|_| {}).await;
    let id = f.create("edited").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.ctx
        .drift
        .record(id, drift("Deployment", "web", Some("kubectl-edit")));
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(provisions(&f.engine), 2, "the engine converged the store");
    let timeline = f.timeline(id).await;
    assert!(
        timeline.contains(&(
            "DriftCorrected".into(),
            "Deployment web changed by kubectl-edit; the store's resources were re-applied".into()
        )),
        "{timeline:?}"
    );
    let store = f.store(id).await.unwrap();
    assert_eq!(
        (store.phase, store.generation),
        (Phase::Ready, 1),
        "a correction is no new generation"
    );
}

#[tokio::test]
async fn a_run_with_nothing_to_do_takes_no_lease() {
    let f = fixture(|_| {}).await;
    let id = f.create("idle").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    // Another replica holds the Ready store's lease.
    assert_eq!(
        f.ctx
            .repo
            .claim(id, "other-replica", Duration::from_secs(600))
            .await
            .unwrap(),
        storeplane::domain::ports::Claim::Held
    );
    // A wake-up with nothing to do (a pod of the store restarted) ends at
    // once: no claim, so no wait for that lease and no write of its own.
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    // Work does take the lease: drift waits for the other replica's.
    f.ctx
        .drift
        .record(id, drift("Deployment", "web", Some("kubectl-edit")));
    assert!(
        matches!(run_once(&f.ctx, id).await, Next::After(_)),
        "a run with work waits for the other replica's lease"
    );
    assert_eq!(provisions(&f.engine), 1);
}

#[tokio::test]
async fn a_deletion_counts_only_for_an_object_of_the_current_revision() {
    let f = fixture(|_| {}).await;
    let id = f.create("pruned").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.releases
        .record(&Revision {
            store_id: id.to_string(),
            namespace: "store-pruned".into(),
            name: "shop".into(),
            revision: 1,
            chart: "shop".into(),
            chart_version: "1.0.0".into(),
            chart_dir: "/charts/shop".into(),
            values: serde_json::json!({}),
            digest: "d".into(),
            objects: vec![ObjectRef {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: "web".into(),
            }],
        })
        .await
        .unwrap();
    // An object the revision no longer has (an upgrade pruned it).
    f.ctx.drift.record(id, drift("Service", "old", None));
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(provisions(&f.engine), 1, "a prune is no drift");
    // One it has.
    f.ctx.drift.record(id, drift("Service", "web", None));
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(provisions(&f.engine), 2);
    assert!(
        f.timeline(id)
            .await
            .iter()
            .any(|(reason, message)| reason == "DriftCorrected"
                && message.starts_with("Service web deleted")),
    );
}

#[tokio::test]
async fn objects_edited_in_a_loop_are_corrected_at_the_stores_rate() {
    let f = fixture(|_| {}).await;
    let id = f.create("fought").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    for _ in 0..2 {
        f.ctx
            .drift
            .record(id, drift("Deployment", "web", Some("a-loop")));
        assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    }
    assert_eq!(provisions(&f.engine), 3);
    // Past the burst: the correction waits for its slot instead of running.
    f.ctx
        .drift
        .record(id, drift("Deployment", "web", Some("a-loop")));
    let Next::After(wait) = run_once(&f.ctx, id).await else {
        panic!("corrected past the rate");
    };
    assert!(wait > Duration::from_secs(3000), "{wait:?}");
    assert_eq!(provisions(&f.engine), 3, "no provision past the rate");
    assert_eq!(
        f.ctx.drift.take(id),
        [drift("Deployment", "web", Some("a-loop"))],
        "the drift waits for the next slot"
    );
}

#[tokio::test]
async fn drift_of_a_store_being_deleted_is_not_corrected() {
    let f = fixture(|_| {}).await;
    let id = f.create("going").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.change(id, |s| Ok(s.request_deletion())).await;
    f.ctx
        .drift
        .record(id, drift("Deployment", "web", Some("kubectl-edit")));
    run_once(&f.ctx, id).await;
    assert_eq!(provisions(&f.engine), 1);
    assert!(f.ctx.drift.take(id).is_empty(), "the drift was dropped");
}

#[tokio::test]
async fn a_suspended_store_is_paused_by_its_engine_and_resumed_to_ready() {
    let f = fixture(|_| {}).await;
    let id = f.create("pausable").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.change(id, |s| {
        s.set_custom_domains(vec!["shop.example.org".into()])
    })
    .await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.change(id, |s| s.suspend()).await;
    // The engine still reports the workloads running: the store waits.
    f.engine.observe_next(ObservedPhase::Ready);
    f.engine.observe_next(ObservedPhase::Suspended);
    let nexts = f.run_until_done(id, 3).await;
    assert_eq!(nexts.last(), Some(&Next::Done));
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Suspended);
    assert_eq!(store.observed_generation, store.generation);
    assert!(store.was_suspended());
    let suspended_at = store.generation;
    assert!(f.engine.calls().contains(&Call::Suspend {
        generation: suspended_at,
        hosts: vec!["shop.example.org".into()],
    }));
    // Paused: nothing to do, whatever the engine would say.
    let calls = f.engine.calls().len();
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(f.engine.calls().len(), calls);

    f.change(id, |s| s.resume()).await;
    f.engine.observe_next(ObservedPhase::Suspended);
    let nexts = f.run_until_done(id, 3).await;
    assert_eq!(nexts.last(), Some(&Next::Done));
    let store = f.store(id).await.unwrap();
    assert_eq!(store.phase, Phase::Ready);
    assert!(!store.was_suspended());
    assert!(f.engine.calls().contains(&Call::Resume {
        generation: store.generation,
    }));
    let reasons: Vec<String> = f.timeline(id).await.into_iter().map(|(r, _)| r).collect();
    for reason in [
        "SuspendRequested",
        "EngineSuspended",
        "Suspended",
        "ResumeRequested",
        "EngineResumed",
        "Ready",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }
    // The engine version stays what it was: pausing is no upgrade.
    assert_eq!(store.engine_version, "1.0.0");
}

#[tokio::test]
async fn a_paused_store_scaled_up_by_hand_is_paused_again() {
    let f = fixture(|_| {}).await;
    let id = f.create("kept-paused").await;
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    f.change(id, |s| s.suspend()).await;
    f.engine.observe_next(ObservedPhase::Suspended);
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    let paused = f.store(id).await.unwrap();
    assert_eq!(paused.phase, Phase::Suspended);
    let suspends = |engine: &ScriptedEngine| {
        engine
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Suspend { .. }))
            .count()
    };
    assert_eq!(suspends(&f.engine), 1);
    let provisions_before = provisions(&f.engine);
    f.ctx
        .drift
        .record(id, drift("Deployment", "web", Some("kubectl-scale")));
    assert_eq!(run_once(&f.ctx, id).await, Next::Done);
    assert_eq!(suspends(&f.engine), 2, "the engine paused it again");
    assert_eq!(
        provisions(&f.engine),
        provisions_before,
        "a paused store is not provisioned"
    );
    let store = f.store(id).await.unwrap();
    assert_eq!(
        (store.phase, store.generation),
        (Phase::Suspended, paused.generation),
        "a correction is no new generation"
    );
    assert!(
        f.timeline(id)
            .await
            .iter()
            .any(|(reason, message)| reason == "DriftCorrected"
                && message.starts_with("Deployment web changed by kubectl-scale")),
    );
}
