//! The store namespace and its platform baseline: labels (owner labels and
//! Pod Security `restricted`), ResourceQuota, LimitRange and a
//! deny-by-default NetworkPolicy set.
//!
//! Ownership comes first: a namespace is adopted only when it is absent
//! (then storeplane creates it) or already labelled with this store's id
//! and this installation's id; it is deleted only under the same condition.
//! Anything else is a `NamespaceConflict` that changes nothing. The
//! baseline is applied under its own field manager, which plugins never
//! use, and re-applied whenever a watch shows it drifted.

use serde_json::{Value, json};

use super::Context;
use crate::{
    cluster::{
        Error as ClusterError, ErrorKind, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_STORE,
        LABEL_TENANT, Owner, Ownership, PLATFORM_FIELD_MANAGER,
    },
    domain::Store,
};

/// Pod Security admission level every store namespace enforces.
pub const POD_SECURITY_LEVEL: &str = "restricted";
/// The Pod Security admission label.
const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// Baseline objects are named with this prefix, which plugins may not use.
pub const PLATFORM_PREFIX: &str = "storeplane-";
/// The RoleBinding that grants storeplane `--store-role` in a store
/// namespace (plugins may not touch RBAC objects, nor names with the
/// platform prefix).
pub const ACCESS_BINDING: &str = "storeplane-access";
/// How long to wait for the API server to authorize through a RoleBinding
/// just created (its RBAC cache sees it within milliseconds).
const ACCESS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How soon the access review is asked again within [`ACCESS_WAIT`]: no
/// watch reports the API server's RBAC cache, so this one wait asks.
const ACCESS_RECHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// Why the namespace could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The namespace exists and is not this store's: nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The namespace is being deleted (a previous store of this name, or
    /// this one's own teardown): try again once it is gone.
    #[error("namespace {0} is still terminating")]
    Terminating(String),
    /// The cluster failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// What a teardown step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Teardown {
    /// The namespace is gone.
    Gone,
    /// Deletion is under way (finalizers, contents).
    Waiting,
    /// The namespace is not this store's; it was left alone.
    NotOurs(String),
}

/// The owner labels of `store` in this installation.
pub fn owner(ctx: &Context, store: &Store) -> Owner {
    Owner {
        store: store.id.to_string(),
        tenant: store.tenant.0.clone(),
        installation: ctx.installation.to_string(),
    }
}

/// The namespace as storeplane wants it.
fn desired_namespace(ctx: &Context, store: &Store) -> Value {
    let mut labels = owner(ctx, store).labels();
    labels.insert(POD_SECURITY_ENFORCE.into(), json!(POD_SECURITY_LEVEL));
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": store.namespace(), "labels": labels},
    })
}

/// The baseline objects' identity and `spec`, the same for every store.
pub fn baseline_specs(ctx: &Context) -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let platform = &ctx.platform;
    vec![
        (
            "v1",
            "ResourceQuota",
            "storeplane-quota",
            json!({"hard": platform.quota}),
        ),
        (
            "v1",
            "LimitRange",
            "storeplane-limits",
            json!({"limits": platform.limits}),
        ),
        // Nothing in, nothing out, unless allowed below or by the engine's chart.
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "storeplane-default-deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "storeplane-allow-same-namespace",
            json!({
                "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            }),
        ),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "storeplane-allow-dns",
            json!({
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            }),
        ),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "storeplane-allow-ingress-controller",
            json!({
                "podSelector": {}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": platform.ingress_namespace,
                }}}]}],
            }),
        ),
    ]
}

/// Whether a live object shows the baseline drifted: a baseline object
/// whose `spec` differs from the platform's, or a store namespace missing
/// its Pod Security label. Everything else (workloads, status updates of
/// the quota) is not drift.
pub fn drifted(ctx: &Context, object: &Value) -> bool {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if kind == "Namespace" {
        return object["metadata"]["labels"][POD_SECURITY_ENFORCE].as_str()
            != Some(POD_SECURITY_LEVEL);
    }
    baseline_specs(ctx)
        .iter()
        .find(|(_, k, n, _)| *k == kind && *n == name)
        .is_some_and(|(.., spec)| object["spec"] != *spec)
}

/// Whether `kind`/`name` is one of the baseline objects.
pub fn is_baseline(kind: &str, name: &str) -> bool {
    name.starts_with(PLATFORM_PREFIX)
        && matches!(kind, "ResourceQuota" | "LimitRange" | "NetworkPolicy")
}

/// A store namespace as the namespace watch last saw it: just what the
/// ownership check needs (a few strings per store, not the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its `storeplane.dev/store` label.
    pub store: Option<String>,
    /// Its `storeplane.dev/instance` label.
    pub instance: Option<String>,
    /// Whether it has a deletion timestamp.
    pub terminating: bool,
    /// [`fingerprint`] of its labels.
    pub labels: u64,
}

/// The labels storeplane sets on a store namespace.
const SET_LABELS: [&str; 5] = [
    LABEL_STORE,
    LABEL_TENANT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    POD_SECURITY_ENFORCE,
];

/// The values of [`SET_LABELS`] in `labels`, as one number: whether a
/// namespace the watch saw has the labels storeplane would apply, kept in
/// eight bytes per store rather than as strings.
fn fingerprint(labels: &Value) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::hash::DefaultHasher::new();
    for key in SET_LABELS {
        labels[key].as_str().hash(&mut hasher);
    }
    hasher.finish()
}

impl Seen {
    /// What the watch tells of `namespace`.
    pub fn of(namespace: &Value) -> Self {
        let labels = &namespace["metadata"]["labels"];
        Self {
            store: labels[LABEL_STORE].as_str().map(str::to_owned),
            instance: labels[LABEL_INSTANCE].as_str().map(str::to_owned),
            terminating: !namespace["metadata"]["deletionTimestamp"].is_null(),
            labels: fingerprint(labels),
        }
    }

    fn owned_by(&self, owner: &Owner) -> bool {
        !self.terminating
            && self.store.as_deref() == Some(owner.store.as_str())
            && self.instance.as_deref() == Some(owner.installation.as_str())
    }
}

/// Records what the namespace watch saw (`None`: deleted).
pub fn seen(ctx: &Context, name: &str, namespace: Option<&Value>) {
    let mut known = ctx
        .namespaces
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let gone = namespace.is_none_or(|ns| !ns["metadata"]["deletionTimestamp"].is_null());
    match namespace {
        Some(ns) => {
            known.insert(name.to_owned(), Seen::of(ns));
        }
        None => {
            known.remove(name);
        }
    }
    // A namespace of the same name created later needs its own binding.
    if gone && let Some(access) = &ctx.platform.store_access {
        access.set_bound(name, false);
    }
}

/// Binds `--store-role` to storeplane itself in the store's namespace
/// (RoleBinding [`ACCESS_BINDING`]) before anything else happens in it:
/// storeplane holds no rights in namespaces it did not create. Always for a
/// namespace just `Created`; for an `Existing` one unless this process
/// already did it (a namespace from a storeplane without `--store-role`
/// gets it here). A binding that already exists is left as it is. After a
/// create, waits until the API server authorizes through it.
pub async fn ensure_access(
    ctx: &Context,
    store: &Store,
    claimed: Claimed,
) -> Result<(), ClusterError> {
    let Some(access) = &ctx.platform.store_access else {
        return Ok(());
    };
    let ns = store.namespace();
    if claimed == Claimed::Existing && access.is_bound(&ns) {
        return Ok(());
    }
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": ACCESS_BINDING, "namespace": ns, "labels": owner(ctx, store).labels()},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": access.role},
        "subjects": [access.subject],
    });
    match ctx
        .kube
        .create(PLATFORM_FIELD_MANAGER, Some(&ns), &binding)
        .await
    {
        Ok(_) => wait_for_access(ctx, &ns).await?,
        Err(err) if err.is_conflict() => {}
        Err(err) => return Err(err),
    }
    access.set_bound(&ns, true);
    Ok(())
}

/// Asks the API server (SelfSubjectAccessReview, which every authenticated
/// user may) until it authorizes storeplane through the new binding: the
/// baseline's first apply would otherwise race the RBAC cache.
async fn wait_for_access(ctx: &Context, ns: &str) -> Result<(), ClusterError> {
    let review = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": ns, "verb": "patch", "resource": "resourcequotas"}},
    });
    let deadline = tokio::time::Instant::now() + ACCESS_WAIT;
    loop {
        let answer = ctx
            .kube
            .create(PLATFORM_FIELD_MANAGER, None, &review)
            .await?;
        if answer["status"]["allowed"].as_bool() == Some(true) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::new(
                ErrorKind::Denied,
                format!(
                    "RoleBinding {ACCESS_BINDING} in {ns} grants nothing: is --store-role-subject this process's own identity?"
                ),
            ));
        }
        tokio::time::sleep(ACCESS_RECHECK).await;
    }
}

/// Who owns the store's namespace right now; `None` when it is absent.
async fn current(ctx: &Context, store: &Store) -> Result<Option<(Value, Ownership)>, ClusterError> {
    let found = ctx
        .kube
        .get(None, "v1", "Namespace", &store.namespace())
        .await?;
    Ok(found.map(|ns| {
        let ownership = owner(ctx, store).owns(&ns);
        (ns, ownership)
    }))
}

fn conflict(store: &Store, why: &str) -> PrepareError {
    PrepareError::Conflict(format!(
        "namespace {} already exists and is not this store's ({why}); storeplane changed \
         nothing in it. Delete the namespace or choose another store name, then retry",
        store.namespace()
    ))
}

/// What [`claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The namespace was already this store's.
    Existing,
    /// It was absent and has just been created (without its baseline yet).
    Created,
}

/// Makes sure the namespace exists and is this store's, creating it when
/// absent. Never changes a namespace it does not own.
pub async fn claim(ctx: &Context, store: &Store) -> Result<Claimed, PrepareError> {
    let ns = store.namespace();
    // The watch already shows it as this store's: no need to ask. Anything
    // else (unknown, someone else's, terminating) is read from the cluster.
    let known = ctx
        .namespaces
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&ns)
        .is_some_and(|seen| seen.owned_by(&owner(ctx, store)));
    if known {
        return Ok(Claimed::Existing);
    }
    // Create first, and never apply: an apply would take over a namespace
    // someone else made. A new store's namespace is absent, so reading it
    // first cost every provision a request; one that exists answers 409
    // (a terminating one too) and is read and judged.
    for _ in 0..2 {
        match ctx
            .kube
            .create(PLATFORM_FIELD_MANAGER, None, &desired_namespace(ctx, store))
            .await
        {
            Ok(_) => return Ok(Claimed::Created),
            Err(err) if err.is_conflict() => {}
            Err(err) => return Err(err.into()),
        }
        // Judge what is there; gone again by now, it is created again.
        if let Some((live, ownership)) = current(ctx, store).await? {
            return match ownership {
                Ownership::Foreign(why) => Err(conflict(store, &why)),
                _ if !live["metadata"]["deletionTimestamp"].is_null() => {
                    Err(PrepareError::Terminating(ns))
                }
                Ownership::Ours | Ownership::Legacy => Ok(Claimed::Existing),
            };
        }
    }
    Err(conflict(
        store,
        "it was created and deleted by someone else meanwhile",
    ))
}

/// Whether the namespace watch last saw the store's namespace, not
/// terminating, with every label storeplane sets as it would set it.
fn labelled(ctx: &Context, store: &Store, desired: &Value) -> bool {
    let want = fingerprint(&desired["metadata"]["labels"]);
    ctx.namespaces
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&store.namespace())
        .is_some_and(|seen| !seen.terminating && seen.labels == want)
}

/// Applies the namespace labels (unless the namespace was just created
/// with them, or the watch shows them as they should be) and every
/// baseline object under the platform's field manager (with `force`:
/// these fields are the platform's). The namespace must be this store's
/// ([`claim`] first).
pub async fn apply_baseline(
    ctx: &Context,
    store: &Store,
    claimed: Claimed,
) -> Result<(), ClusterError> {
    let ns = store.namespace();
    let desired = desired_namespace(ctx, store);
    if claimed == Claimed::Existing && !labelled(ctx, store, &desired) {
        ctx.kube
            .apply_as(PLATFORM_FIELD_MANAGER, None, &desired)
            .await?;
    }
    let labels = owner(ctx, store).labels();
    for (api_version, kind, name, spec) in baseline_specs(ctx) {
        let object = json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": spec,
        });
        ctx.kube
            .apply_as(PLATFORM_FIELD_MANAGER, Some(&ns), &object)
            .await?;
    }
    Ok(())
}

/// Re-asserts the baseline of a store whose namespace is still its own;
/// false when there was nothing to re-assert (namespace absent, foreign or
/// terminating).
pub async fn reassert(ctx: &Context, store: &Store) -> Result<bool, ClusterError> {
    match current(ctx, store).await? {
        Some((live, ownership))
            if ownership.is_ours() && live["metadata"]["deletionTimestamp"].is_null() =>
        {
            ensure_access(ctx, store, Claimed::Existing).await?;
            apply_baseline(ctx, store, Claimed::Existing).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether a teardown may act in the namespace: `Err` says why not (it is
/// absent, or not this store's) and is the teardown's last word.
pub async fn delete_check(
    ctx: &Context,
    store: &Store,
) -> Result<Result<(), String>, ClusterError> {
    let ns = store.namespace();
    Ok(match current(ctx, store).await? {
        None => Err(format!(
            "namespace {ns} does not exist; store record deleted"
        )),
        Some((_, Ownership::Foreign(why))) => Err(format!(
            "namespace {ns} is not this store's ({why}); it was left as it is and the store record deleted"
        )),
        Some(_) => Ok(()),
    })
}

/// Starts deleting the namespace when it is this store's.
pub async fn delete(ctx: &Context, store: &Store) -> Result<Teardown, ClusterError> {
    let ns = store.namespace();
    let Some((live, ownership)) = current(ctx, store).await? else {
        return Ok(Teardown::Gone);
    };
    match ownership {
        Ownership::Foreign(why) => {
            return Ok(Teardown::NotOurs(format!(
                "namespace {ns} is not this store's ({why}); it was left as it is"
            )));
        }
        Ownership::Legacy | Ownership::Ours => {}
    }
    if !live["metadata"]["deletionTimestamp"].is_null() {
        return Ok(Teardown::Waiting);
    }
    let uid = live["metadata"]["uid"].as_str().unwrap_or_default();
    if uid.is_empty() {
        return Err(ClusterError::new(
            ErrorKind::Invalid,
            format!("namespace {ns} has no uid"),
        ));
    }
    // The uid precondition: only the namespace judged above is deleted.
    ctx.kube
        .delete_uid(None, "v1", "Namespace", &ns, uid)
        .await?;
    Ok(Teardown::Waiting)
}
