//! Real Helm as a second oracle (issue 14, point 5): for every engine chart,
//! what storeplane installs on the real control plane equals what `helm
//! install` of the same chart with the same values installs, object by
//! object and field by field.
//!
//! storeplane provisions a store (built-in chart engine, server-side apply
//! under its own field manager); the test reads the release the plugin
//! installed from the server's database (`releases`: chart directory and
//! the exact values), then the real `helm` binary (`STOREPLANE_TEST_HELM`)
//! installs that chart with those values and `--wait` into a fresh
//! namespace with the store namespace's Pod Security labels, under the same
//! release name so object names match. Both sides are read back live from
//! the API server, so defaults it fills in are part of what is compared.
//!
//! What is compared: every namespaced object storeplane applied for the
//! release (label `storeplane.dev/release`, applied by field manager
//! `storeplane`) against every object Helm made for it (annotation
//! `meta.helm.sh/release-name`), plus Helm's hooks. What is stripped before
//! the comparison, and why that is legitimate, is in [`Normalized`]; what
//! each side adds on purpose is checked rather than stripped blindly
//! (`app.kubernetes.io/managed-by`). Any other difference fails the test
//! with a per-field diff.
//!
//! Not part of either release, so not compared: storeplane's namespace
//! baseline (ResourceQuota, LimitRange, deny-by-default NetworkPolicies)
//! and the Secrets its plugins have it generate (`ensure-secret`), Helm's
//! release record (Secret `sh.helm.release.v1.<name>.v1`), and what
//! controllers derive from the release's objects (ReplicaSets, Pods,
//! ControllerRevisions, StatefulSet claims, Endpoints, EndpointSlices):
//! their pods differ by construction, as the store namespace's LimitRange
//! fills in pod defaults that Helm's bare namespace does not.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams},
    discovery::{Discovery, Scope, verbs},
};
use serde_json::{Map, Value, json};
use storeplane_e2e::{
    Backend, Server,
    clusters::{Env, real_kubeconfig},
    repo_root, v1 as pb,
};

/// Platform settings that reach the charts' values (the static site runs
/// with the defaults: no TLS, no classes).
const PLATFORM: &[&str] = &[
    "--base-domain",
    "shops.example.com",
    "--ingress-class",
    "nginx",
    "--cluster-issuer",
    "letsencrypt",
    "--storage-class",
    "standard",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installs_the_static_site_chart_as_storeplane_does() -> Result<()> {
    same_objects_as_helm(
        "static-site",
        "oracle-site",
        // Quotes, markup, non-ASCII and a list: the values that reach the
        // chart as long multi-line HTML strings.
        json!({
            "shop_title": "Tom & Jerry's \"Corner\" Shop",
            "tagline": "Fresh <b>bread</b>: ünïcødé — daily: yes",
            "currency": "EUR",
            "replicas": 2,
            "products": [
                {"name": "Sourdough", "price": "4.50", "description": "Slow: 36 h\nproof"},
                {"name": "Baguette", "price": "1.2"},
            ],
        }),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installs_the_woocommerce_chart_as_storeplane_does() -> Result<()> {
    same_objects_as_helm(
        "woocommerce",
        "oracle-woo",
        json!({
            "admin_email": "owner@example.com",
            "store_title": "Ünïcode & \"quotes\": a store",
            "currency": "GBP",
            "sample_products": 3,
        }),
        // The platform settings the charts branch on: TLS through
        // cert-manager, an ingress class, a storage class, a base domain.
        PLATFORM,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installs_the_medusa_chart_as_storeplane_does() -> Result<()> {
    same_objects_as_helm(
        "medusa",
        "oracle-medusa",
        json!({
            "admin_email": "owner@example.com",
            "region": "in",
            "seed_demo_data": false,
        }),
        PLATFORM,
    )
    .await
}

/// The real `helm` binary `cargo xtask test` built.
fn helm_binary() -> Result<PathBuf> {
    std::env::var_os("STOREPLANE_TEST_HELM")
        .map(PathBuf::from)
        .context(
            "STOREPLANE_TEST_HELM is not set: the Helm oracle needs the real helm binary \
             that `cargo xtask cluster build` makes; run `cargo xtask test`, or by hand \
             STOREPLANE_TEST_HELM=target/k8s/bin/helm with a real cluster \
             (STOREPLANE_TEST_KUBECONFIG)",
        )
}

/// Provisions `engine` with `config` through storeplane on the real
/// cluster (`platform`: extra `serve` arguments), installs the same chart and values with Helm beside it, and
/// compares the two sets of objects. Cleans up both whatever the outcome.
async fn same_objects_as_helm(
    engine: &str,
    base: &str,
    config: Value,
    platform: &[&str],
) -> Result<()> {
    let helm = helm_binary()?;
    let env = Env::real(Backend::Sqlite);
    let server = env.start(platform).await?;
    let name = env.name(base);
    let kube = env.kube(&server).await?;
    let case = Case {
        kube: &kube,
        helm: &helm,
        engine,
        store_ns: format!("store-{name}"),
        helm_ns: format!("helm-{name}"),
    };
    let outcome = async {
        let release = provision(&env, &server, engine, &name, config).await?;
        case.compare(&release).await
    }
    .await;
    // Both namespaces go whatever happened (the server first, so that it
    // does not repair what is being deleted); the outcome is what counts.
    drop(server);
    for ns in [&case.store_ns, &case.helm_ns] {
        match Api::<Namespace>::all(kube.clone())
            .delete(ns, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => eprintln!("deleting namespace {ns}: {e}"),
        }
    }
    outcome
}

/// Creates store `name` and waits until it is Ready; returns the release
/// its plugin installed.
async fn provision(
    env: &Env,
    server: &Server,
    engine: &str,
    name: &str,
    config: Value,
) -> Result<Recorded> {
    let mut request = storeplane_e2e::create_request(name);
    request.engine = engine.into();
    request.config = Some(to_struct(&config)?);
    server.stores().await?.create_store(request).await?;
    let store = env
        .wait_for(server, &[name], pb::StorePhase::Ready)
        .await?
        .remove(0);
    recorded_release(&server.database_url, &store.id).await
}

/// One engine's comparison.
struct Case<'a> {
    kube: &'a kube::Client,
    helm: &'a Path,
    engine: &'a str,
    /// Where storeplane installed.
    store_ns: String,
    /// Where Helm installs.
    helm_ns: String,
}

/// The release's objects on each side, by [`key`].
#[derive(Default)]
struct Sides {
    ours: BTreeMap<String, Value>,
    theirs: BTreeMap<String, Value>,
}

/// What the comparison found: differences fail the test, notes say what
/// was deliberately left out.
#[derive(Default)]
struct Findings {
    differences: Vec<String>,
    notes: Vec<String>,
}

impl Case<'_> {
    async fn compare(&self, release: &Recorded) -> Result<()> {
        let status = self.helm_install(release).await?;
        let resources = namespaced_resources(self.kube).await?;
        let mut sides = Sides {
            ours: live_objects(self.kube, &resources, &self.store_ns, |o| {
                applied_by_storeplane(o, &release.name)
            })
            .await?,
            theirs: live_objects(self.kube, &resources, &self.helm_ns, |o| {
                o["metadata"]["annotations"]["meta.helm.sh/release-name"].as_str()
                    == Some(release.name.as_str())
                    && written_by(o, "helm", None)
            })
            .await?,
        };
        // The release record must name exactly what storeplane applied.
        let recorded: BTreeSet<String> = release
            .objects
            .iter()
            .map(|o| {
                let field = |f: &str| o[f].as_str().unwrap_or_default().to_owned();
                key(&field("apiVersion"), &field("kind"), &field("name"))
            })
            .collect();
        let live: BTreeSet<String> = sides.ours.keys().cloned().collect();
        ensure!(
            recorded == live,
            "the release record and the live objects differ: recorded only {:?}, live only {:?}",
            recorded.difference(&live).collect::<Vec<_>>(),
            live.difference(&recorded).collect::<Vec<_>>()
        );
        ensure!(!live.is_empty(), "release {} has no objects", release.name);

        let mut found = Findings::default();
        self.hooks(&resources, &status, &mut sides, &mut found)
            .await?;
        managed_by(&sides, &mut found);
        let normalized = |objects: BTreeMap<String, Value>, ns: &str| -> BTreeMap<_, _> {
            objects
                .into_iter()
                .map(|(k, o)| (k, Normalized::from(o, ns).0))
                .collect()
        };
        let ours = normalized(sides.ours, &self.store_ns);
        let theirs = normalized(sides.theirs, &self.helm_ns);
        for key in ours.keys().chain(theirs.keys()).collect::<BTreeSet<_>>() {
            match (ours.get(key), theirs.get(key)) {
                (Some(a), Some(b)) => diff(key, a, b, &mut found.differences),
                (Some(_), None) => found
                    .differences
                    .push(format!("{key}: only storeplane installed it")),
                (None, Some(_)) => found
                    .differences
                    .push(format!("{key}: only Helm installed it")),
                (None, None) => {}
            }
        }
        eprintln!(
            "{}: compared {} objects of release {} ({}); {}",
            self.engine,
            ours.len(),
            release.name,
            ours.keys().cloned().collect::<Vec<_>>().join(", "),
            if found.notes.is_empty() {
                "no hooks".to_owned()
            } else {
                found.notes.join("; ")
            }
        );
        ensure!(
            found.differences.is_empty(),
            "storeplane's install of {} (namespace {}) differs from `helm install` of the same \
             chart and values (namespace {}) in {} places:\n  {}",
            self.engine,
            self.store_ns,
            self.helm_ns,
            found.differences.len(),
            found.differences.join("\n  ")
        );
        Ok(())
    }

    /// `helm install --wait` of the recorded chart and values, under the
    /// same release name, into a fresh namespace with the store
    /// namespace's Pod Security labels; returns `helm status -o json`.
    async fn helm_install(&self, release: &Recorded) -> Result<Value> {
        let namespaces = Api::<Namespace>::all(self.kube.clone());
        let pod_security: BTreeMap<String, String> = namespaces
            .get(&self.store_ns)
            .await?
            .metadata
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k.starts_with("pod-security.kubernetes.io/"))
            .collect();
        ensure!(
            pod_security
                .get("pod-security.kubernetes.io/enforce")
                .map(String::as_str)
                == Some("restricted"),
            "{} is not under the restricted Pod Security standard: {pod_security:?}",
            self.store_ns
        );
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(self.helm_ns.clone());
        namespace.metadata.labels = Some(pod_security);
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;

        let home = repo_root()
            .join("target/e2e")
            .join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&home)?;
        let values = home.join("values.json");
        std::fs::write(&values, serde_json::to_vec_pretty(&release.values)?)?;
        let (chart, values) = (
            release.chart_dir.display().to_string(),
            values.display().to_string(),
        );
        let ns = self.helm_ns.as_str();
        let name = release.name.as_str();
        run_helm(
            self.helm,
            &home,
            &[
                "install",
                name,
                &chart,
                "--namespace",
                ns,
                "--values",
                &values,
                "--wait",
                "--timeout",
                "5m",
            ],
        )
        .await?;
        let status = run_helm(
            self.helm,
            &home,
            &["status", name, "--namespace", ns, "-o", "json"],
        )
        .await?;
        serde_json::from_str(&status).context("helm status -o json")
    }
}

/// Each tool stamps `app.kubernetes.io/managed-by` with its own name
/// (storeplane's ownership label replaces the chart's `{{ .Release.Service
/// }}`); anything else is a difference. Checked here, stripped after.
fn managed_by(sides: &Sides, found: &mut Findings) {
    for (side, objects, expected) in [
        ("storeplane", &sides.ours, "storeplane"),
        ("helm", &sides.theirs, "Helm"),
    ] {
        for (key, object) in objects {
            let by = object["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str();
            if by != Some(expected) {
                found.differences.push(format!(
                    "{key}: {side}'s app.kubernetes.io/managed-by is {by:?}, expected {expected:?}"
                ));
            }
        }
    }
}

/// A release as the server recorded it.
struct Recorded {
    name: String,
    chart_dir: PathBuf,
    values: Value,
    /// `apiVersion`, `kind`, `name` of each object applied.
    objects: Vec<Value>,
}

/// The one release of store `store_id`, at its only revision.
async fn recorded_release(database_url: &str, store_id: &str) -> Result<Recorded> {
    let pool = sqlx::SqlitePool::connect(database_url).await?;
    let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
        r#"SELECT name, revision, chart_dir, "values", objects FROM releases WHERE store_id = ?"#,
    )
    .bind(store_id)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    let [(name, revision, chart_dir, values, objects)] = <[_; 1]>::try_from(rows)
        .map_err(|rows| anyhow::anyhow!("expected one release row, found {}", rows.len()))?;
    ensure!(revision == 1, "release {name} is at revision {revision}");
    Ok(Recorded {
        name,
        chart_dir: chart_dir.into(),
        values: serde_json::from_str(&values).context("release values")?,
        objects: serde_json::from_str(&objects).context("release objects")?,
    })
}

/// Runs the real helm with its homes in `home` (nothing from the user's).
async fn run_helm(helm: &Path, home: &Path, args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new(helm)
        .args(args)
        .env("KUBECONFIG", real_kubeconfig()?)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .await
        .with_context(|| format!("running {}", helm.display()))?;
    ensure!(
        out.status.success(),
        "helm {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// `Deployment.apps/shop`, as kubectl names objects.
fn key(api_version: &str, kind: &str, name: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Every namespaced kind the cluster lists (preferred versions), except
/// events: what a chart could have put into a namespace.
async fn namespaced_resources(kube: &kube::Client) -> Result<Vec<ApiResource>> {
    let discovery = Discovery::new(kube.clone()).run().await?;
    Ok(discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .filter(|(r, caps)| {
            caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && r.kind != "Event"
        })
        .map(|(r, _)| r)
        .collect())
}

/// The objects of namespace `ns` that `pick` selects, by [`key`].
async fn live_objects(
    kube: &kube::Client,
    resources: &[ApiResource],
    ns: &str,
    pick: impl Fn(&Value) -> bool,
) -> Result<BTreeMap<String, Value>> {
    let mut found = BTreeMap::new();
    for resource in resources {
        let api = Api::<DynamicObject>::namespaced_with(kube.clone(), ns, resource);
        for item in api.list(&ListParams::default()).await?.items {
            let mut object = serde_json::to_value(&item)?;
            object["apiVersion"] = resource.api_version.clone().into();
            object["kind"] = resource.kind.clone().into();
            if pick(&object) {
                let name = item.metadata.name.unwrap_or_default();
                found.insert(key(&resource.api_version, &resource.kind, &name), object);
            }
        }
    }
    Ok(found)
}

/// Whether storeplane applied `object` for `release`: its release label,
/// written by a server-side apply of storeplane's field manager.
fn applied_by_storeplane(object: &Value, release: &str) -> bool {
    object["metadata"]["labels"]["storeplane.dev/release"].as_str() == Some(release)
        && written_by(object, "storeplane", Some("Apply"))
}

/// Whether field manager `manager` (with `operation`, if given) wrote
/// `object` and no other object owns it. Controllers copy labels and
/// annotations to what they derive (a Deployment's onto its ReplicaSets,
/// a StatefulSet's onto its ControllerRevisions, a Service's labels onto
/// its Endpoints), so a marker alone would also select those.
fn written_by(object: &Value, manager: &str, operation: Option<&str>) -> bool {
    object["metadata"]["ownerReferences"].is_null()
        && object["metadata"]["managedFields"]
            .as_array()
            .is_some_and(|fields| {
                fields.iter().any(|f| {
                    f["manager"] == manager && operation.is_none_or(|op| f["operation"] == op)
                })
            })
}

impl Case<'_> {
    /// Helm runs hooks apart from the release and deletes them by their
    /// `helm.sh/hook-delete-policy`; storeplane applies them with the release
    /// (ARCHITECTURE.md, "Helm hooks are applied with the release") and strips
    /// their `helm.sh/hook*` annotations. A hook Helm kept is compared like any
    /// object (its hook annotations stripped); one Helm deleted by policy is
    /// taken out of storeplane's side and noted; one missing for another
    /// reason is a difference.
    async fn hooks(
        &self,
        resources: &[ApiResource],
        status: &Value,
        sides: &mut Sides,
        found: &mut Findings,
    ) -> Result<()> {
        for hook in status["hooks"].as_array().into_iter().flatten() {
            let (kind, name) = (
                hook["kind"].as_str().unwrap_or_default(),
                hook["name"].as_str().unwrap_or_default(),
            );
            let policies: Vec<&str> = hook["delete_policies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let Some(resource) = resources.iter().find(|r| r.kind == kind) else {
                found
                    .differences
                    .push(format!("hook {kind}/{name}: the cluster has no such kind"));
                continue;
            };
            let key = key(&resource.api_version, kind, name);
            let api =
                Api::<DynamicObject>::namespaced_with(self.kube.clone(), &self.helm_ns, resource);
            match api.get_opt(name).await? {
                Some(live) => {
                    let mut object = serde_json::to_value(live)?;
                    object["apiVersion"] = resource.api_version.clone().into();
                    object["kind"] = kind.into();
                    // Helm labels the release's objects, not its hooks.
                    object["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm".into();
                    sides.theirs.insert(key.clone(), object);
                    found
                        .notes
                        .push(format!("hook {key} ({policies:?}): kept by Helm, compared"));
                }
                None if policies.contains(&"hook-succeeded") => {
                    sides.ours.remove(&key);
                    found.notes.push(format!(
                        "hook {key}: deleted by Helm after it succeeded (hook-succeeded); \
                         storeplane keeps it with the release, not compared"
                    ));
                }
                None => found.differences.push(format!(
                    "hook {key}: gone from Helm's namespace though its delete policies \
                     {policies:?} do not delete it"
                )),
            }
        }
        Ok(())
    }
}

/// A live object without what legitimately differs between two installs
/// of the same manifests into two namespaces by two tools:
///
/// - `metadata.uid`, and the uid wherever it appears in a string (`$UID`:
///   the API server derives a Job's selector and pod labels from it),
///   `resourceVersion`, `creationTimestamp`, `generation`,
///   `managedFields`, `selfLink`: set by the API server per object; the
///   field managers are each tool's own (`storeplane`, `helm`).
/// - `metadata.namespace`, and the namespace's name wherever it appears in
///   a string (`$NAMESPACE`): the two installs are in different namespaces
///   by construction.
/// - `status`: written by controllers, as far as they got when read.
/// - Labels `storeplane.dev/*` (storeplane's ownership labels) and
///   `app.kubernetes.io/managed-by` (each tool stamps its own name: checked
///   before normalizing); annotations `meta.helm.sh/*` (Helm's ownership
///   record) and `helm.sh/hook*` (storeplane applies hooks with the
///   release and strips them).
/// - A Service's `spec.clusterIP(s)`: allocated per Service.
/// - A claim's `spec.volumeName`: each claim gets its own volume.
struct Normalized(Value);

impl Normalized {
    fn from(mut object: Value, namespace: &str) -> Self {
        let uid = object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !uid.is_empty() {
            replace_strings(&mut object, &uid, "$UID");
        }
        if let Some(metadata) = object["metadata"].as_object_mut() {
            for field in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "generation",
                "managedFields",
                "selfLink",
                "namespace",
            ] {
                metadata.remove(field);
            }
            prune(metadata, "labels", |k| {
                k.starts_with("storeplane.dev/") || k == "app.kubernetes.io/managed-by"
            });
            prune(metadata, "annotations", |k| {
                k.starts_with("meta.helm.sh/") || k.starts_with("helm.sh/hook")
            });
        }
        if let Some(object) = object.as_object_mut() {
            object.remove("status");
        }
        match object["kind"].as_str() {
            Some("Service") => {
                if let Some(spec) = object["spec"].as_object_mut() {
                    spec.remove("clusterIP");
                    spec.remove("clusterIPs");
                }
            }
            Some("PersistentVolumeClaim") => {
                if let Some(spec) = object["spec"].as_object_mut() {
                    spec.remove("volumeName");
                }
            }
            _ => {}
        }
        replace_strings(&mut object, namespace, "$NAMESPACE");
        Self(object)
    }
}

/// Removes the keys of `metadata[field]` that `drop` selects, and the map
/// when it is left empty.
fn prune(metadata: &mut Map<String, Value>, field: &str, drop: impl Fn(&str) -> bool) {
    if let Some(map) = metadata.get_mut(field).and_then(Value::as_object_mut) {
        map.retain(|k, _| !drop(k));
        if map.is_empty() {
            metadata.remove(field);
        }
    }
}

fn replace_strings(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

/// Appends one line per differing field between storeplane's `a` and
/// Helm's `b`, e.g. `Deployment.apps/shop: spec.replicas: storeplane 2,
/// helm 1`.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let sub = if path.contains(": ") {
                    format!("{path}.{k}")
                } else {
                    format!("{path}: {k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&sub, x, y, out),
                    (Some(x), None) => out.push(format!("{sub}: only storeplane has {}", show(x))),
                    (None, Some(y)) => out.push(format!("{sub}: only Helm has {}", show(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::String(x), Value::String(y)) if x != y => {
            let at = x
                .char_indices()
                .zip(y.chars())
                .find(|((_, c), d)| c != d)
                .map_or(x.len().min(y.len()), |((i, _), _)| i);
            let around = |s: &str| {
                let start = s.floor_char_boundary(at.saturating_sub(20));
                let end = s.ceil_char_boundary((at + 40).min(s.len()));
                format!("{:?}", &s[start..end])
            };
            out.push(format!(
                "{path}: strings differ at byte {at} (lengths {} and {}): storeplane …{}…, helm …{}…",
                x.len(),
                y.len(),
                around(x),
                around(y)
            ));
        }
        (x, y) if x != y => out.push(format!("{path}: storeplane {}, helm {}", show(x), show(y))),
        _ => {}
    }
}

fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 160 {
        let end = text.floor_char_boundary(160);
        format!("{}… ({} bytes)", &text[..end], text.len())
    } else {
        text
    }
}

/// A JSON object as a protobuf `Struct`, nested values included.
fn to_struct(config: &Value) -> Result<prost_types::Struct> {
    let Value::Object(map) = config else {
        bail!("a configuration is a JSON object, not {config}");
    };
    Ok(prost_types::Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
    })
}

fn to_value(value: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[test]
fn normalizing_removes_only_what_differs_by_construction() {
    let object = |ns: &str, uid: &str, labels: Value, ip: &str, replicas: u32| {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "shop",
                "namespace": ns,
                "uid": uid,
                "resourceVersion": "7",
                "labels": labels,
                "annotations": {"meta.helm.sh/release-name": "shop", "keep": "me"},
            },
            "spec": {"clusterIP": ip, "replicas": replicas, "selector": {"uid": uid}},
            "data": {"url": format!("http://shop.{ns}.svc")},
            "status": {"loadBalancer": {}},
        })
    };
    let ours = Normalized::from(
        object(
            "store-a",
            "u-1",
            json!({"app": "x", "storeplane.dev/store": "s", "app.kubernetes.io/managed-by": "storeplane"}),
            "10.0.0.1",
            2,
        ),
        "store-a",
    )
    .0;
    let theirs = Normalized::from(
        object(
            "helm-a",
            "u-2",
            json!({"app": "x", "app.kubernetes.io/managed-by": "Helm"}),
            "10.0.0.2",
            2,
        ),
        "helm-a",
    )
    .0;
    assert_eq!(ours, theirs);
    assert_eq!(ours["metadata"]["annotations"], json!({"keep": "me"}));
    assert_eq!(ours["metadata"]["labels"], json!({"app": "x"}));
    assert_eq!(ours["data"]["url"], "http://shop.$NAMESPACE.svc");

    let mut differences = Vec::new();
    let other = Normalized::from(object("helm-a", "u-2", json!({}), "", 3), "helm-a").0;
    diff("Service/shop", &ours, &other, &mut differences);
    assert_eq!(
        differences,
        [
            r#"Service/shop: metadata.labels: only storeplane has {"app":"x"}"#,
            "Service/shop: spec.replicas: storeplane 2, helm 3",
        ]
    );
}
