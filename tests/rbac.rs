//! storeplane's least-privilege RBAC, proven on a real API server (issue 15,
//! point 3) rather than asserted.
//!
//! The chart (`charts/storeplane`) is installed with the real Helm
//! (`STOREPLANE_TEST_HELM`) into a namespace of its own on the real control
//! plane (`STOREPLANE_TEST_KUBECONFIG`); kwok fakes its pods, so the
//! Deployment does not really run. Instead the local `storeplane serve`
//! runs exactly as the in-cluster process would: with a token of the
//! chart's ServiceAccount (TokenRequest) in a kubeconfig, and with the
//! arguments and platform settings of the chart's Deployment. Through it a
//! WooCommerce and a Medusa store reach Ready, take the paths a first
//! provision does not (credentials revealed, a drifted baseline restored, a
//! generated Secret's missing key added back on an upgrade) and are deleted
//! until their namespaces are gone.
//!
//! Then, while the stores still exist, the ServiceAccount is shown — by
//! `kubectl auth can-i --as=…` as the administrator, by a SubjectAccessReview
//! over every cluster-scoped resource the API server serves, and by trying
//! with its own token — to be unable to read Secrets in `kube-system`, in
//! its own namespace or in a namespace it did not create, to create
//! cluster-scoped objects other than store namespaces, or to escalate (bind
//! other roles, create or change RBAC, mint tokens).
//!
//! Last, the API server's audit log (`STOREPLANE_TEST_AUDIT_LOG`) of the
//! run, filtered by the ServiceAccount's user name and storeplane's
//! User-Agent, is compared with the chart's ClusterRoles: every request was
//! allowed and is explained by one of their rules, and every verb they
//! grant was used (see [`justified`] for how "used" is read).

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    io::BufRead as _,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::{
    apps::v1::Deployment,
    authentication::v1::{TokenRequest, TokenRequestSpec},
    authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
    core::v1::{Namespace, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding},
};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams},
    core::{ApiResource, GroupVersionKind},
    discovery::{Discovery, Scope, verbs},
};
use serde_json::{Value, json};
use storeplane_e2e::{
    Backend, Server, binary,
    clusters::{Env, real_client, real_kubeconfig},
    engine_request, fresh_database, plugins_dir, repo_root, v1 as pb,
};

/// Granted verbs this run cannot exercise, each with the reason, as
/// `(role name suffix, API group, resource, verb, why)`. None: every verb
/// the chart grants is used below. An entry needs a reason a reviewer
/// accepts; prefer removing the verb.
const UNEXERCISED: &[(&str, &str, &str, &str, &str)] = &[];

/// What every authenticated user may do by Kubernetes' default bindings
/// (`system:basic-user`): not the chart's to grant, and creating them
/// persists nothing.
const DEFAULT_CREATES: &[(&str, &str)] = &[
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_service_account_runs_stores_and_can_do_nothing_else() -> Result<()> {
    let tools = Tools::from_env()?;
    let install = Install::new(&tools).await?;
    let outcome = run(&tools, &install).await;
    install.remove();
    outcome
}

async fn run(tools: &Tools, install: &Install) -> Result<()> {
    let admin = real_client().await?;
    let chart = install.read_chart(&admin).await?;
    let token_kubeconfig = install.token_kubeconfig(&admin).await?;
    let server = start_as_the_chart(&chart, &token_kubeconfig).await?;
    let env = Env::real(Backend::Sqlite);
    let stores = [
        (env.name("rbac-woo"), "woocommerce"),
        (env.name("rbac-medusa"), "medusa"),
    ];
    let names: Vec<&str> = stores.iter().map(|(n, _)| n.as_str()).collect();
    let store_namespaces: BTreeSet<String> = names.iter().map(|n| format!("store-{n}")).collect();
    install
        .leftovers
        .borrow_mut()
        .extend(store_namespaces.iter().cloned());

    for (name, engine) in &stores {
        server
            .stores()
            .await?
            .create_store(engine_request(
                name,
                engine,
                json!({"admin_email": "owner@example.com"}),
            ))
            .await?;
    }
    env.wait_for(&server, &names, pb::StorePhase::Ready).await?;
    let woo = &stores[0].0;
    let woo_ns = format!("store-{woo}");
    exercise_the_paths_a_first_provision_skips(&admin, &server, woo, &woo_ns).await?;
    only_the_expected_bindings_name_it(&admin, install, &store_namespaces).await?;

    // What it cannot do, while its store namespaces exist (the positive
    // controls need them).
    let mut wrong = Vec::new();
    wrong.extend(can_i(tools, install, &woo_ns)?);
    wrong.extend(no_cluster_scoped_writes(&admin, install).await?);
    wrong.extend(tries_with_its_token(&token_kubeconfig, install, &woo_ns).await?);
    ensure!(
        wrong.is_empty(),
        "the chart's ServiceAccount can do more (or less) than it should:\n{}",
        wrong.join("\n")
    );

    for name in &names {
        server
            .stores()
            .await?
            .delete_store(pb::DeleteStoreRequest {
                name: (*name).into(),
                ..Default::default()
            })
            .await?;
    }
    for name in &names {
        wait_until_gone(&admin, &server, name).await?;
    }
    drop(server);
    // The API server writes a request's audit event when it completes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    compare_with_the_audit_log(tools, install, &chart, &store_namespaces)
}

/// The binaries and files the test needs, from the environment `cargo
/// xtask test` sets.
#[derive(Clone)]
struct Tools {
    helm: PathBuf,
    kubectl: PathBuf,
    audit_log: PathBuf,
    kubeconfig: PathBuf,
    /// Scratch space of this run (Helm's homes, the token kubeconfig).
    dir: PathBuf,
}

impl Tools {
    fn from_env() -> Result<Self> {
        let kubeconfig = real_kubeconfig()?;
        let helm = std::env::var_os("STOREPLANE_TEST_HELM")
            .map(PathBuf::from)
            .context(
                "STOREPLANE_TEST_HELM is not set: the RBAC proof installs the chart with the real \
                 helm that `cargo xtask cluster build` makes (`cargo xtask test` sets it; by hand: \
                 STOREPLANE_TEST_HELM=target/k8s/bin/helm)",
            )?;
        let audit_log = std::env::var_os("STOREPLANE_TEST_AUDIT_LOG")
            .map(PathBuf::from)
            .context(
                "STOREPLANE_TEST_AUDIT_LOG is not set: the RBAC proof reads the API server's audit \
                 log (`cargo xtask test` sets it; by hand: the cluster's <dir>/logs/audit.log)",
            )?;
        ensure!(
            audit_log.is_file(),
            "no audit log at {}",
            audit_log.display()
        );
        let kubectl = helm
            .parent()
            .map(|dir| dir.join("kubectl"))
            .filter(|k| k.is_file())
            .context("no kubectl beside STOREPLANE_TEST_HELM (target/k8s/bin has both)")?;
        let dir = repo_root()
            .join("target/e2e")
            .join(format!("rbac-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            helm,
            kubectl,
            audit_log,
            kubeconfig,
            dir,
        })
    }

    /// `kubectl` as the cluster's administrator.
    fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// `helm` as the administrator, with its homes in the scratch directory.
    fn helm(&self) -> Command {
        let mut cmd = Command::new(&self.helm);
        cmd.env("KUBECONFIG", &self.kubeconfig);
        for (var, sub) in [
            ("HELM_CACHE_HOME", "helm/cache"),
            ("HELM_CONFIG_HOME", "helm/config"),
            ("HELM_DATA_HOME", "helm/data"),
        ] {
            cmd.env(var, self.dir.join(sub));
        }
        cmd
    }
}

fn run_ok(cmd: &mut Command) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The chart installed by Helm, in a namespace of its own, and a namespace
/// of the administrator's beside it; both removed by [`Install::remove`]
/// (also on a panic, through `Drop`).
struct Install {
    tools: Tools,
    release: String,
    /// The chart's namespace.
    namespace: String,
    /// A namespace storeplane did not create, holding a Secret.
    foreign: String,
    /// The ServiceAccount (and ClusterRole, Deployment) name.
    fullname: String,
    /// `system:serviceaccount:<namespace>:<fullname>`.
    username: String,
    /// Namespaces a failed run may leave behind: the stores' (storeplane
    /// deletes them on success) and what a try with the token might have
    /// created had it not been refused.
    leftovers: std::cell::RefCell<Vec<String>>,
    removed: std::cell::Cell<bool>,
}

/// What the installed chart says about storeplane.
struct Chart {
    /// The Deployment's container arguments after `serve`.
    args: Vec<String>,
    /// Its platform settings (env) as `serve` flags.
    platform: Vec<String>,
    /// The ClusterRole bound cluster-wide, and its rules.
    cluster_role: (String, Vec<PolicyRule>),
    /// The per-store ClusterRole storeplane binds itself, and its rules.
    store_role: (String, Vec<PolicyRule>),
}

impl Install {
    async fn new(tools: &Tools) -> Result<Self> {
        let id = &uuid::Uuid::new_v4().simple().to_string()[..5];
        let release = format!("rbac-{id}");
        let namespace = format!("rbac-{id}");
        let foreign = format!("rbac-foreign-{id}");
        let fullname = format!("{release}-storeplane");
        let username = format!("system:serviceaccount:{namespace}:{fullname}");
        let install = Self {
            tools: tools.clone(),
            release: release.clone(),
            namespace: namespace.clone(),
            foreign: foreign.clone(),
            fullname,
            username,
            leftovers: std::cell::RefCell::new(vec![
                format!("rbac-evil-{id}"),
                format!("store-rbac-evil-{id}"),
            ]),
            removed: std::cell::Cell::new(false),
        };
        let admin = real_client().await?;
        let namespaces = Api::<Namespace>::all(admin.clone());
        for ns in [&namespace, &foreign] {
            namespaces
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({"metadata": {"name": ns}}))?,
                )
                .await?;
        }
        // The database Secret the chart reads (the pods never really
        // start; the local server runs on SQLite), and a Secret of someone
        // else's.
        for (ns, name) in [
            (&namespace, "storeplane-database"),
            (&foreign, "not-storeplanes"),
        ] {
            Api::<Secret>::namespaced(admin.clone(), ns)
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({
                        "metadata": {"name": name},
                        "stringData": {"url": "postgres://storeplane@db.invalid:5432/storeplane"},
                    }))?,
                )
                .await?;
        }
        let chart = repo_root().join("charts/storeplane");
        run_ok(
            tools
                .helm()
                .args(["install", &release])
                .arg(&chart)
                .args(["--namespace", &namespace, "--wait", "--timeout", "3m"])
                .args(["--set", "image.repository=storeplane.invalid/storeplane"])
                // The platform settings the engines' charts branch on.
                .args(["--set", "platform.baseDomain=shops.example.com"])
                .args(["--set", "platform.ingressClass=nginx"])
                .args(["--set", "platform.clusterIssuer=letsencrypt"])
                .args(["--set", "platform.storageClass=standard"]),
        )
        .context("helm install of charts/storeplane")?;
        Ok(install)
    }

    /// Uninstalls the chart and deletes both namespaces (once).
    fn remove(&self) {
        if self.removed.replace(true) {
            return;
        }
        let _ = self
            .tools
            .helm()
            .args(["uninstall", &self.release, "--namespace", &self.namespace])
            .output();
        let _ = self
            .tools
            .kubectl()
            .args(["delete", "namespace", "--wait=false", "--ignore-not-found"])
            .args([&self.namespace, &self.foreign])
            .args(self.leftovers.borrow().iter())
            .output();
        let _ = std::fs::remove_dir_all(&self.tools.dir);
    }

    async fn read_chart(&self, admin: &kube::Client) -> Result<Chart> {
        let deployment = Api::<Deployment>::namespaced(admin.clone(), &self.namespace)
            .get(&self.fullname)
            .await?;
        let container = deployment
            .spec
            .template
            .spec
            .and_then(|s| s.containers.into_iter().next())
            .context("the chart's Deployment has no container")?;
        let args: Vec<String> = container.args.unwrap_or_default();
        ensure!(
            args.first().map(String::as_str) == Some("serve"),
            "the chart runs {args:?}, not `serve`"
        );
        let flags = [
            ("STOREPLANE_BASE_DOMAIN", "--base-domain"),
            ("STOREPLANE_INGRESS_CLASS", "--ingress-class"),
            ("STOREPLANE_CLUSTER_ISSUER", "--cluster-issuer"),
            ("STOREPLANE_STORAGE_CLASS", "--storage-class"),
        ];
        let mut platform = Vec::new();
        for var in container.env.unwrap_or_default() {
            if let (Some((_, flag)), Some(value)) =
                (flags.iter().find(|(name, _)| *name == var.name), var.value)
            {
                platform.push(format!("{flag}={value}"));
            }
        }
        ensure!(
            platform.len() == flags.len(),
            "the chart's Deployment lacks platform settings: {platform:?}"
        );
        let roles = Api::<ClusterRole>::all(admin.clone());
        let rules = |role: ClusterRole| {
            (
                role.metadata.name.unwrap_or_default(),
                role.rules.unwrap_or_default(),
            )
        };
        Ok(Chart {
            args: args[1..].to_vec(),
            platform,
            cluster_role: rules(roles.get(&self.fullname).await?),
            store_role: rules(roles.get(&format!("{}-store", self.fullname)).await?),
        })
    }

    /// A kubeconfig with a token of the chart's ServiceAccount
    /// (TokenRequest), as the in-cluster process would have mounted.
    async fn token_kubeconfig(&self, admin: &kube::Client) -> Result<PathBuf> {
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let token = Api::<ServiceAccount>::namespaced(admin.clone(), &self.namespace)
            .create_token_request(&self.fullname, &PostParams::default(), &request)
            .await?
            .status
            .context("TokenRequest returned no status")?
            .token;
        let admin_config = kube::config::Kubeconfig::read_from(real_kubeconfig()?)?;
        let cluster = admin_config
            .clusters
            .first()
            .and_then(|c| c.cluster.clone())
            .context("the admin kubeconfig has no cluster")?;
        // JSON is YAML: the kubeconfig reader takes it as it is.
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "real", "cluster": {
                "server": cluster.server,
                "certificate-authority-data": cluster.certificate_authority_data,
            }}],
            "users": [{"name": "storeplane", "user": {"token": token}}],
            "contexts": [{"name": "storeplane", "context": {"cluster": "real", "user": "storeplane"}}],
            "current-context": "storeplane",
        });
        let path = self.tools.dir.join("storeplane.kubeconfig");
        std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig)?)?;
        Ok(path)
    }
}

impl Drop for Install {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `storeplane serve` with the chart's token and the chart's arguments.
async fn start_as_the_chart(chart: &Chart, kubeconfig: &Path) -> Result<Server> {
    let help = run_ok(Command::new(binary()?).args(["serve", "--help"]))?;
    for arg in &chart.args {
        let flag = arg.split('=').next().unwrap_or(arg);
        ensure!(
            help.contains(flag),
            "`storeplane serve` has no {flag}, which the chart passes: the control plane must \
             bind its per-store ClusterRole to itself in each store namespace it creates \
             (charts/storeplane/README.md, \"What storeplane does for it\")"
        );
    }
    let mut args: Vec<String> = vec![
        "--cluster".into(),
        "kubernetes".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--plugins-dir".into(),
        plugins_dir().display().to_string(),
        "--plugin-cache".into(),
        repo_root()
            .join("target/plugin-cache")
            .display()
            .to_string(),
        "--rate-limit-per-tenant".into(),
        "0".into(),
        "--rate-limit-per-address".into(),
        "0".into(),
    ];
    args.extend(chart.args.iter().cloned());
    args.extend(chart.platform.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_on(&fresh_database(Backend::Sqlite).await?, &args).await
}

/// Paths a first provision does not take: `RevealStoreCredentials` reads a
/// Secret; a namespace that lost its Pod Security label gets its baseline
/// re-applied; an upgrade adds a key missing from a generated Secret.
async fn exercise_the_paths_a_first_provision_skips(
    admin: &kube::Client,
    server: &Server,
    store: &str,
    ns: &str,
) -> Result<()> {
    let credentials = server
        .stores()
        .await?
        .reveal_store_credentials(pb::RevealStoreCredentialsRequest {
            name: store.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(!credentials.password.is_empty(), "no password revealed");

    let enforce = "pod-security.kubernetes.io/enforce";
    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces
        .patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {enforce: null}}})),
        )
        .await?;
    eventually("the Pod Security label to be restored", || {
        let namespaces = namespaces.clone();
        async move {
            let live = namespaces.get(ns).await?;
            Ok(live
                .metadata
                .labels
                .unwrap_or_default()
                .get(enforce)
                .map(String::as_str)
                == Some("restricted"))
        }
    })
    .await?;

    // A generated Secret with two keys loses one; the upgrade's provision
    // adds it back (ensure_secret never overwrites what is there).
    let secrets = Api::<Secret>::namespaced(admin.clone(), ns);
    let generated = secrets
        .list(&ListParams::default().labels("storeplane.dev/store"))
        .await?
        .items
        .into_iter()
        .find(|s| s.data.as_ref().is_some_and(|d| d.len() >= 2))
        .context("no generated Secret with two keys in the WooCommerce store")?;
    let name = generated.metadata.name.clone().unwrap_or_default();
    let key = generated
        .data
        .as_ref()
        .and_then(|d| d.keys().next().cloned())
        .context("no key")?;
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {key.as_str(): null}})),
        )
        .await?;
    let mut stores = server.stores().await?;
    let upgraded = stores
        .upgrade_store(pb::UpgradeStoreRequest {
            name: store.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    eventually("the upgrade to be observed", || {
        let (mut stores, name) = (stores.clone(), upgraded.name.clone());
        async move {
            let store = stores
                .get_store(pb::GetStoreRequest {
                    name,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok(store.observed_generation >= upgraded.generation
                && store.phase() == pb::StorePhase::Ready)
        }
    })
    .await?;
    let restored = secrets.get(&name).await?;
    ensure!(
        restored.data.is_some_and(|d| d.contains_key(&key)),
        "key {key} of Secret {ns}/{name} was not added back"
    );
    Ok(())
}

/// Polls `check` every 200 ms for up to 60 s.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if check().await? {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "waited 60 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The ServiceAccount is named by the chart's ClusterRoleBinding (to the
/// cluster role) and by one RoleBinding per store namespace (to the store
/// role, made by storeplane), and by no other binding anywhere.
async fn only_the_expected_bindings_name_it(
    admin: &kube::Client,
    install: &Install,
    store_namespaces: &BTreeSet<String>,
) -> Result<()> {
    let names_it = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == install.fullname
                && s.namespace.as_deref() == Some(install.namespace.as_str())
        })
    };
    let cluster: Vec<String> = Api::<ClusterRoleBinding>::all(admin.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|b| names_it(&b.subjects))
        .map(|b| {
            format!(
                "{} -> {}/{}",
                b.metadata.name.unwrap_or_default(),
                b.role_ref.kind,
                b.role_ref.name
            )
        })
        .collect();
    ensure!(
        cluster == [format!("{0} -> ClusterRole/{0}", install.fullname)],
        "ClusterRoleBindings naming the ServiceAccount: {cluster:?}"
    );
    let mut namespaced: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for binding in Api::<RoleBinding>::all(admin.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|b| names_it(&b.subjects))
    {
        namespaced
            .entry(binding.metadata.namespace.unwrap_or_default())
            .or_default()
            .push(format!(
                "{}/{}",
                binding.role_ref.kind, binding.role_ref.name
            ));
    }
    let expected: BTreeMap<String, Vec<String>> = store_namespaces
        .iter()
        .map(|ns| {
            (
                ns.clone(),
                vec![format!("ClusterRole/{}-store", install.fullname)],
            )
        })
        .collect();
    ensure!(
        namespaced == expected,
        "RoleBindings naming the ServiceAccount, by namespace: {namespaced:?}; expected exactly \
         one per store namespace, to the store role: {expected:?}"
    );
    Ok(())
}

/// `kubectl auth can-i --as=<the ServiceAccount>` as the administrator:
/// what it must not be allowed, and what the chart grants on purpose.
fn can_i(tools: &Tools, install: &Install, store_ns: &str) -> Result<Vec<String>> {
    let cluster_role = format!("clusterroles/{}", install.fullname);
    let store_role = format!("clusterroles/{}-store", install.fullname);
    let (ns, foreign) = (install.namespace.as_str(), install.foreign.as_str());
    let checks: Vec<(Vec<&str>, bool)> = vec![
        (vec!["get", "secrets", "-n", "kube-system"], false),
        (vec!["list", "secrets", "-n", "kube-system"], false),
        (vec!["get", "secrets", "-n", foreign], false),
        // Not even its own namespace (its database URL reaches it as env).
        (vec!["get", "secrets", "-n", ns], false),
        (vec!["list", "secrets", "--all-namespaces"], false),
        (vec!["get", "pods", "-n", "kube-system"], false),
        (vec!["create", "pods", "-n", store_ns], false),
        (vec!["create", "pods/exec", "-n", store_ns], false),
        (vec!["create", "clusterroles"], false),
        (vec!["create", "clusterrolebindings"], false),
        (vec!["create", "roles", "-n", store_ns], false),
        (vec!["update", &cluster_role], false),
        (vec!["patch", &cluster_role], false),
        (vec!["delete", &cluster_role], false),
        (vec!["patch", &store_role], false),
        (vec!["escalate", "clusterroles"], false),
        (vec!["bind", "clusterroles/cluster-admin"], false),
        (vec!["bind", "clusterroles/admin"], false),
        (vec!["impersonate", "serviceaccounts"], false),
        (vec!["impersonate", "users"], false),
        (vec!["create", "serviceaccounts/token", "-n", ns], false),
        (vec!["update", "rolebindings", "-n", store_ns], false),
        (vec!["delete", "rolebindings", "-n", store_ns], false),
        (vec!["create", "persistentvolumes"], false),
        (vec!["create", "validatingadmissionpolicies"], false),
        (vec!["delete", "validatingadmissionpolicybindings"], false),
        // Granted on purpose (the policies and the code hold them in).
        (vec!["get", "secrets", "-n", store_ns], true),
        (vec!["bind", &store_role], true),
        (vec!["create", "namespaces"], true),
        (vec!["create", "rolebindings", "-n", store_ns], true),
    ];
    let mut wrong = Vec::new();
    for (args, expected) in checks {
        let output = tools
            .kubectl()
            .args(["auth", "can-i"])
            .args(&args)
            .arg(format!("--as={}", install.username))
            .output()?;
        let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        ensure!(
            answer == "yes" || answer == "no",
            "kubectl auth can-i {args:?}: {answer:?} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if (answer == "yes") != expected {
            wrong.push(format!(
                "kubectl auth can-i {} --as=…: {answer}",
                args.join(" ")
            ));
        }
    }
    Ok(wrong)
}

/// SubjectAccessReviews as the administrator for every write verb on every
/// cluster-scoped resource the API server serves: allowed only for
/// namespaces (held to store namespaces by the chart's admission policy)
/// and Kubernetes' self-reviews.
async fn no_cluster_scoped_writes(admin: &kube::Client, install: &Install) -> Result<Vec<String>> {
    let discovery = Discovery::new(admin.clone()).run().await?;
    let reviews = Api::<SubjectAccessReview>::all(admin.clone());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Cluster {
                continue;
            }
            for verb in [
                verbs::CREATE,
                verbs::UPDATE,
                verbs::PATCH,
                verbs::DELETE,
                verbs::DELETE_COLLECTION,
            ] {
                if !caps.supports_operation(verb) {
                    continue;
                }
                let review = SubjectAccessReview {
                    spec: SubjectAccessReviewSpec {
                        user: Some(install.username.clone()),
                        groups: Some(vec![
                            "system:serviceaccounts".into(),
                            format!("system:serviceaccounts:{}", install.namespace),
                            "system:authenticated".into(),
                        ]),
                        resource_attributes: Some(ResourceAttributes {
                            group: Some(resource.group.clone()),
                            resource: Some(resource.plural.clone()),
                            verb: Some(verb.into()),
                            ..ResourceAttributes::default()
                        }),
                        ..SubjectAccessReviewSpec::default()
                    },
                    ..SubjectAccessReview::default()
                };
                let allowed = reviews
                    .create(&PostParams::default(), &review)
                    .await?
                    .status
                    .is_some_and(|s| s.allowed);
                checked += 1;
                let expected = (resource.group.is_empty()
                    && resource.plural == "namespaces"
                    && matches!(verb, verbs::CREATE | verbs::PATCH | verbs::DELETE))
                    || (verb == verbs::CREATE
                        && DEFAULT_CREATES
                            .contains(&(resource.group.as_str(), resource.plural.as_str())));
                if allowed != expected {
                    wrong.push(format!(
                        "SubjectAccessReview {verb} {}.{}: allowed={allowed}",
                        resource.plural, resource.group
                    ));
                }
            }
        }
    }
    ensure!(
        checked > 50,
        "only {checked} cluster-scoped (resource, verb) pairs reviewed"
    );
    Ok(wrong)
}

/// Tries, with the ServiceAccount's own token (User-Agent
/// `storeplane-rbac-test`, kept apart from storeplane's requests in the
/// audit log), what RBAC or the chart's admission policies must refuse:
/// every one must be `403 Forbidden`.
async fn tries_with_its_token(
    kubeconfig: &Path,
    install: &Install,
    store_ns: &str,
) -> Result<Vec<String>> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let mut config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static("storeplane-rbac-test"),
    ));
    let token = kube::Client::try_from(config)?;
    let (ns, foreign, id) = (
        install.namespace.as_str(),
        install.foreign.as_str(),
        &install.release[5..],
    );
    let store_role = format!("{}-store", install.fullname);
    let binding = |ns: &str, role: &str, sa_ns: &str, sa: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("rbac-test-{id}"), "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}],
        })
    };
    let store_labels = json!({
        "storeplane.dev/store": "00000000-0000-0000-0000-000000000000",
        "pod-security.kubernetes.io/enforce": "restricted",
    });
    let mut tries: Vec<(String, Attempt)> = vec![
        (
            "list Secrets in kube-system".into(),
            Attempt::List("v1", "Secret", Some("kube-system".into())),
        ),
        (
            format!("get Secret {foreign}/not-storeplanes"),
            Attempt::Get("v1", "Secret", foreign.into(), "not-storeplanes".into()),
        ),
        (
            format!("get its own database Secret {ns}/storeplane-database"),
            Attempt::Get("v1", "Secret", ns.into(), "storeplane-database".into()),
        ),
        (
            "list Secrets in every namespace".into(),
            Attempt::List("v1", "Secret", None),
        ),
        (
            format!("lower Pod Security of {store_ns} to privileged"),
            Attempt::Patch(
                "v1",
                "Namespace",
                None,
                store_ns.into(),
                json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}),
            ),
        ),
        (
            "create an unlabelled store-* namespace".into(),
            Attempt::Create(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("store-rbac-evil-{id}")}}),
            ),
        ),
        (
            "create a labelled namespace not named store-*".into(),
            Attempt::Create(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": format!("rbac-evil-{id}"), "labels": store_labels}})),
        ),
        (
            format!("bind the store role to itself in {foreign}"),
            Attempt::Create(binding(foreign, &store_role, ns, &install.fullname)),
        ),
        (
            "bind the store role to itself in kube-system".into(),
            Attempt::Create(binding("kube-system", &store_role, ns, &install.fullname)),
        ),
        (
            format!("bind cluster-admin to itself in {store_ns}"),
            Attempt::Create(binding(store_ns, "cluster-admin", ns, &install.fullname)),
        ),
        (
            format!("bind the store role to the store's own pods in {store_ns}"),
            Attempt::Create(binding(store_ns, &store_role, store_ns, "default")),
        ),
        (
            "create a ClusterRoleBinding to cluster-admin".into(),
            Attempt::Create(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("rbac-test-{id}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": install.fullname, "namespace": ns}],
            })),
        ),
        (
            "create a ClusterRole".into(),
            Attempt::Create(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": format!("rbac-test-{id}")},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
            })),
        ),
        (
            "add a verb to its own ClusterRole".into(),
            Attempt::Patch(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                None,
                install.fullname.clone(),
                json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            ),
        ),
        (
            format!("create a Role in {store_ns}"),
            Attempt::Create(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": format!("rbac-test-{id}"), "namespace": store_ns},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
            })),
        ),
        (
            "create a PersistentVolume".into(),
            Attempt::Create(json!({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": format!("rbac-test-{id}")},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/"}},
            })),
        ),
        (
            "create a StorageClass".into(),
            Attempt::Create(json!({
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": format!("rbac-test-{id}")}, "provisioner": "example.com/x",
            })),
        ),
        (
            "create a MutatingWebhookConfiguration".into(),
            Attempt::Create(json!({
                "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": format!("rbac-test-{id}")}, "webhooks": [],
            })),
        ),
        (
            "delete the chart's namespace policy".into(),
            Attempt::Delete(
                "admissionregistration.k8s.io/v1",
                "ValidatingAdmissionPolicy",
                None,
                format!("{}-namespaces", install.fullname),
            ),
        ),
        (
            format!("create a Pod in {store_ns}"),
            Attempt::Create(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("rbac-test-{id}"), "namespace": store_ns},
                "spec": {"containers": [{"name": "x", "image": "busybox"}]},
            })),
        ),
        (
            format!("mint a token for itself in {ns}"),
            Attempt::Token(ns.into(), install.fullname.clone()),
        ),
        // Last: were they allowed, the namespace would be gone or changed.
        (
            format!("label namespace {foreign} as a store's"),
            Attempt::Patch(
                "v1",
                "Namespace",
                None,
                foreign.into(),
                json!({"metadata": {"labels": store_labels}}),
            ),
        ),
        (
            format!("delete namespace {foreign}"),
            Attempt::Delete("v1", "Namespace", None, foreign.into()),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, attempt) in tries.drain(..) {
        match attempt.run(&token).await {
            Err(kube::Error::Api(status)) if status.code == 403 => {}
            Err(other) => wrong.push(format!("{what}: expected 403 Forbidden, got {other}")),
            Ok(()) => wrong.push(format!("{what}: ALLOWED")),
        }
    }
    Ok(wrong)
}

/// One request made with the ServiceAccount's token.
enum Attempt {
    Get(&'static str, &'static str, String, String),
    List(&'static str, &'static str, Option<String>),
    Create(Value),
    Patch(&'static str, &'static str, Option<String>, String, Value),
    Delete(&'static str, &'static str, Option<String>, String),
    Token(String, String),
}

impl Attempt {
    fn api(
        client: &kube::Client,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
    ) -> Api<DynamicObject> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        match ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        }
    }

    async fn run(self, client: &kube::Client) -> Result<(), kube::Error> {
        match self {
            Self::Get(v, k, ns, name) => Self::api(client, v, k, Some(&ns))
                .get(&name)
                .await
                .map(drop),
            Self::List(v, k, ns) => Self::api(client, v, k, ns.as_deref())
                .list(&ListParams::default())
                .await
                .map(drop),
            Self::Create(object) => {
                let v = object["apiVersion"].as_str().unwrap_or_default();
                let k = object["kind"].as_str().unwrap_or_default();
                let ns = object["metadata"]["namespace"].as_str();
                let object: DynamicObject =
                    serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
                Self::api(client, v, k, ns)
                    .create(&PostParams::default(), &object)
                    .await
                    .map(drop)
            }
            Self::Patch(v, k, ns, name, patch) => Self::api(client, v, k, ns.as_deref())
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map(drop),
            Self::Delete(v, k, ns, name) => Self::api(client, v, k, ns.as_deref())
                .delete(&name, &DeleteParams::default())
                .await
                .map(drop),
            Self::Token(ns, name) => Api::<ServiceAccount>::namespaced(client.clone(), &ns)
                .create_token_request(&name, &PostParams::default(), &TokenRequest::default())
                .await
                .map(drop),
        }
    }
}

/// Waits until a deleted store's record and namespace are gone.
async fn wait_until_gone(admin: &kube::Client, server: &Server, name: &str) -> Result<()> {
    let mut stores = server.stores().await?;
    let namespaces = Api::<Namespace>::all(admin.clone());
    let ns = format!("store-{name}");
    let deadline = tokio::time::Instant::now() + storeplane_e2e::clusters::REAL_PATIENCE;
    loop {
        let record = stores
            .get_store(pb::GetStoreRequest {
                name: name.into(),
                ..Default::default()
            })
            .await;
        let record_gone = matches!(&record, Err(s) if s.code() == tonic::Code::NotFound);
        if record_gone && namespaces.get_opt(&ns).await?.is_none() {
            return Ok(());
        }
        if let Err(status) = record
            && status.code() != tonic::Code::NotFound
        {
            return Err(status.into());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "store {name} or namespace {ns} still there after {:?}; server log:\n{}",
            storeplane_e2e::clusters::REAL_PATIENCE,
            storeplane_e2e::tail(&server.log())
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One API request storeplane made, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    verb: String,
    group: String,
    /// `resource` or `resource/subresource`; empty for a non-resource URL.
    resource: String,
    /// Empty for cluster-scoped and all-namespace requests (for a
    /// Namespace, the audit log names the namespace itself: cleared).
    namespace: String,
    name: String,
    code: u16,
}

/// Every request of `username` with a `storeplane/` User-Agent, once per
/// audit id (a watch logs `ResponseStarted` and, when it ends,
/// `ResponseComplete`).
fn storeplane_requests(audit_log: &Path, username: &str) -> Result<Vec<Request>> {
    let file = std::fs::File::open(audit_log)?;
    let mut seen = HashSet::new();
    let mut requests = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        // Cheap filter before parsing: the log holds every test's requests.
        if !line.contains(username) {
            continue;
        }
        let event: Value = serde_json::from_str(&line)?;
        if event["user"]["username"].as_str() != Some(username)
            || !event["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.starts_with("storeplane/"))
            || !matches!(
                event["stage"].as_str(),
                Some("ResponseStarted" | "ResponseComplete")
            )
            || !seen.insert(event["auditID"].as_str().unwrap_or_default().to_owned())
        {
            continue;
        }
        let object = &event["objectRef"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut resource = text(&object["resource"]);
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        let group = text(&object["apiGroup"]);
        let namespace = if group.is_empty() && resource == "namespaces" {
            String::new()
        } else {
            text(&object["namespace"])
        };
        requests.push(Request {
            verb: text(&event["verb"]),
            group,
            resource,
            namespace,
            name: text(&object["name"]),
            code: event["responseStatus"]["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(0),
        });
    }
    Ok(requests)
}

/// One granted permission: (API group, resource, verb, resource names).
type Grant = (String, String, String, Vec<String>);

fn grants(rules: &[PolicyRule]) -> Vec<Grant> {
    let mut out = Vec::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.push((
                        group.clone(),
                        resource.clone(),
                        verb.clone(),
                        rule.resource_names.clone().unwrap_or_default(),
                    ));
                }
            }
        }
    }
    out
}

/// Whether `grant` allows `verb` on the request's resource.
fn allows(grant: &Grant, request: &Request, verb: &str) -> bool {
    let (group, resource, granted, names) = grant;
    (group == "*" || *group == request.group)
        && (resource == "*" || *resource == request.resource)
        && (granted == "*" || granted == verb)
        && (names.is_empty() || names.contains(&request.name))
}

/// The verbs the API server authorized for a request: a server-side apply
/// that created its object (`patch` answered `201`) was authorized as
/// `create` too.
fn authorized_verbs(request: &Request) -> Vec<&str> {
    if request.verb == "patch" && request.code == 201 {
        vec!["patch", "create"]
    } else {
        vec![request.verb.as_str()]
    }
}

/// How a granted permission is justified by what storeplane did:
///
/// - a request with that verb on that resource, in a store namespace for the
///   store role, cluster-wide (or on a Namespace) for the cluster role;
/// - `create` also by a server-side apply that created its object;
/// - `bind` on the store role by a RoleBinding storeplane created: RBAC
///   checks `bind` when a binding is created (it is not a request).
fn justified(grant: &Grant, role: Role<'_>, requests: &[Request]) -> usize {
    let (group, resource, verb, _) = grant;
    if group == "rbac.authorization.k8s.io" && resource == "clusterroles" && verb == "bind" {
        return requests
            .iter()
            .filter(|r| {
                r.resource == "rolebindings"
                    && r.verb == "create"
                    && r.code == 201
                    && role.store_ns.contains(&r.namespace)
            })
            .count();
    }
    requests
        .iter()
        .filter(|r| {
            let in_store = role.store_ns.contains(&r.namespace);
            let needed = match role.store {
                // The store role holds in store namespaces only.
                None => in_store,
                // The cluster role is what allowed a request the store role
                // does not cover.
                Some(store) => !(in_store && store.iter().any(|g| allows(g, r, verb))),
            };
            needed && authorized_verbs(r).contains(&verb.as_str()) && allows(grant, r, verb)
        })
        .count()
}

/// Which role a grant belongs to.
#[derive(Clone, Copy)]
struct Role<'a> {
    /// For the cluster role: the store role's grants; `None` for the store role.
    store: Option<&'a [Grant]>,
    store_ns: &'a BTreeSet<String>,
}

/// The audit log against the chart's rules: every storeplane request was
/// allowed and explained by a rule (or by Kubernetes' defaults for every
/// user), and every granted verb was used.
fn compare_with_the_audit_log(
    tools: &Tools,
    install: &Install,
    chart: &Chart,
    store_ns: &BTreeSet<String>,
) -> Result<()> {
    let requests = storeplane_requests(&tools.audit_log, &install.username)?;
    ensure!(
        requests.len() > 50,
        "only {} requests of {} with User-Agent storeplane/… in {}",
        requests.len(),
        install.username,
        tools.audit_log.display()
    );
    let cluster = grants(&chart.cluster_role.1);
    let store = grants(&chart.store_role.1);

    // Every request was allowed and is explained.
    let mut unexplained = BTreeSet::new();
    for r in &requests {
        if r.code == 401 || r.code == 403 || (r.code >= 400 && ![404, 409].contains(&r.code)) {
            unexplained.insert(format!("{r:?}: refused"));
            continue;
        }
        if r.resource.is_empty() {
            // Discovery (`/api`, `/apis/<group>/<version>`): system:discovery.
            continue;
        }
        let by_default = r.verb == "create"
            && r.namespace.is_empty()
            && DEFAULT_CREATES.contains(&(r.group.as_str(), r.resource.as_str()));
        let explained = authorized_verbs(r).iter().all(|verb| {
            cluster.iter().any(|g| allows(g, r, verb))
                || (store_ns.contains(&r.namespace) && store.iter().any(|g| allows(g, r, verb)))
        });
        if !(by_default || explained) {
            unexplained.insert(format!(
                "{} {}.{} ns={:?} ({}): no rule of the chart allows it",
                r.verb, r.resource, r.group, r.namespace, r.code
            ));
        }
    }

    // Every granted verb was used.
    let mut report = Vec::new();
    let mut unused = Vec::new();
    for (role, grants, scope) in [
        (
            &chart.cluster_role.0,
            &cluster,
            Role {
                store: Some(&store),
                store_ns,
            },
        ),
        (
            &chart.store_role.0,
            &store,
            Role {
                store: None,
                store_ns,
            },
        ),
    ] {
        for grant in grants {
            let count = justified(grant, scope, &requests);
            let (group, resource, verb, _) = grant;
            report.push(format!(
                "{role}: {verb} {resource}.{group} ← {count} request(s)"
            ));
            let excused = UNEXERCISED.iter().any(|(suffix, g, r, v, _)| {
                role.ends_with(suffix) && g == group && r == resource && v == verb
            });
            if count == 0 && !excused {
                unused.push(format!("{role}: {verb} {resource}.{group}"));
            }
        }
    }
    eprintln!(
        "storeplane's requests as {}: {}\n{}",
        install.username,
        requests.len(),
        report.join("\n")
    );
    if !unexplained.is_empty() || !unused.is_empty() {
        bail!(
            "the chart's RBAC and storeplane's requests disagree.\nRequests not allowed or not \
             explained by a rule:\n{}\nGranted but never used (remove them, or add the path \
             to UNEXERCISED with the reason the run cannot take it):\n{}",
            unexplained.into_iter().collect::<Vec<_>>().join("\n"),
            unused.join("\n")
        );
    }
    Ok(())
}
