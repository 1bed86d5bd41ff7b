//! The real `kubectl` against the HTTP server: discovery, Table output,
//! apply, yaml output, selectors, describe, namespace deletion, and the
//! common verbs one by one (including the protobuf bodies of `kubectl
//! create`, `explain`'s OpenAPI schemas and `auth can-i`'s access review).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use storeplane_sim_cluster::{SimCluster, SimConfig, write_kubeconfig};

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: store-1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: store-1
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: store-1}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: store-1}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: store-1}
stringData: {password: hunter2}
"#;

fn kubectl_path() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "kubectl is required by this test and was not found on PATH; \
             install it (Debian: `apt-get install kubernetes-client`)"
        )
    })
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

/// A cluster served on a free port and a kubectl configured for it.
async fn kubectl_for_new_cluster(
    dir: &Path,
) -> (
    Kubectl,
    tokio::task::JoinHandle<storeplane_sim_cluster::Result<()>>,
) {
    let cluster = SimCluster::new(SimConfig::instant());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(cluster.serve(listener));
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &url).await.unwrap();
    let kubectl = Kubectl {
        binary: kubectl_path(),
        kubeconfig,
        cache: dir.join("cache"),
    };
    (kubectl, server)
}

impl Kubectl {
    /// Runs kubectl and returns stdout; panics with stderr on failure.
    async fn ok(&self, args: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(args, None).await;
        assert!(success, "kubectl {args:?} failed:\n{stderr}\n{stdout}");
        stdout
    }

    async fn run(&self, args: &[&str], stdin: Option<&Path>) -> (bool, String, String) {
        self.run_with(args, stdin, &[]).await
    }

    async fn run_with(
        &self,
        args: &[&str],
        stdin: Option<&Path>,
        env: &[(&str, &str)],
    ) -> (bool, String, String) {
        let mut command = tokio::process::Command::new(&self.binary);
        command.envs(env.iter().copied());
        command
            .args(args)
            .arg("--cache-dir")
            .arg(&self.cache)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .kill_on_drop(true);
        if let Some(file) = stdin {
            command.stdin(std::fs::File::open(file).unwrap());
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_applies_lists_shows_and_deletes() {
    let binary = kubectl_path();
    let cluster = SimCluster::new(SimConfig::instant());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(cluster.serve(listener));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(&kubeconfig, &url).await.unwrap();
    let manifest = dir.path().join("store.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let kubectl = Kubectl {
        binary,
        kubeconfig,
        cache: dir.path().join("cache"),
    };

    let applied = kubectl
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .await;
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert!(applied.contains("namespace/store-1 created"), "{applied}");
    // Applying again goes through GET + strategic merge patch.
    let again = kubectl
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .await;
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");

    let namespaces = kubectl.ok(&["get", "ns"]).await;
    assert!(
        namespaces.lines().next().unwrap().starts_with("NAME"),
        "{namespaces}"
    );
    assert!(
        namespaces
            .lines()
            .any(|l| l.starts_with("store-1") && l.contains("Active")),
        "{namespaces}"
    );

    kubectl
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "-n",
            "store-1",
            "--timeout=30s",
        ])
        .await;
    let everything = kubectl
        .ok(&[
            "get",
            "deploy,sts,job,svc,ingress,pvc,secret,events",
            "-n",
            "store-1",
        ])
        .await;
    for expected in [
        "deployment.apps/web",
        "1/1",
        "service/web",
        "ClusterIP",
        "persistentvolumeclaim/data",
        "secret/creds",
    ] {
        assert!(
            everything.contains(expected),
            "missing {expected} in:\n{everything}"
        );
    }

    let yaml = kubectl
        .ok(&["get", "deploy", "web", "-n", "store-1", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("readyReplicas: 1"),
        "{yaml}"
    );
    let pods = kubectl
        .ok(&["get", "pods", "-n", "store-1", "-l", "app in (web)"])
        .await;
    assert!(pods.contains("Running"), "{pods}");
    let described = kubectl
        .ok(&["describe", "deploy", "web", "-n", "store-1"])
        .await;
    assert!(described.contains("ScalingReplicaSet"), "{described}");

    let deleted = kubectl
        .ok(&["delete", "ns", "store-1", "--timeout=30s"])
        .await;
    assert!(
        deleted.contains("namespace \"store-1\" deleted"),
        "{deleted}"
    );
    let after = kubectl.ok(&["get", "ns"]).await;
    assert!(!after.contains("store-1"), "{after}");
    let (found, _, stderr) = kubectl.run(&["get", "ns", "store-1"], None).await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");
    server.abort();
}

impl Kubectl {
    /// Runs a command that does not end by itself (`get -w`) for `for_how_long`,
    /// then stops it and returns what it printed.
    async fn run_for(&self, args: &[&str], for_how_long: Duration) -> String {
        let mut child = tokio::process::Command::new(&self.binary)
            .args(args)
            .arg("--cache-dir")
            .arg(&self.cache)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(for_how_long).await;
        child.start_kill().unwrap();
        let output = child.wait_with_output().await.unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// The common kubectl verbs, each run as an operator would and checked for
/// its effect. The same list runs against the real control plane in the
/// cluster conformance script. `top` is expected to fail on both (no
/// metrics API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_kubectl_verbs_work_against_the_simulated_api() {
    let dir = tempfile::tempdir().unwrap();
    let (kubectl, server) = kubectl_for_new_cluster(dir.path()).await;
    let ns = ["-n", "demo"];
    let with_ns = |args: &[&'static str]| -> Vec<&'static str> {
        let mut all = args.to_vec();
        all.extend(ns);
        all
    };

    // 1-3: discovery.
    let version = kubectl.ok(&["version"]).await;
    assert!(version.contains("Server Version: v1.37"), "{version}");
    let versions = kubectl.ok(&["api-versions"]).await;
    assert!(
        versions.lines().any(|l| l == "apps/v1") && versions.lines().any(|l| l == "v1"),
        "{versions}"
    );
    let resources = kubectl.ok(&["api-resources"]).await;
    assert!(
        resources
            .lines()
            .any(|l| l.starts_with("deployments") && l.contains("deploy") && l.contains("apps/v1")),
        "{resources}"
    );

    // 4-7: typed-client creates, sent as protobuf.
    let created = kubectl.ok(&["create", "namespace", "demo"]).await;
    assert_eq!(created.trim(), "namespace/demo created");
    let created = kubectl
        .ok(&with_ns(&[
            "create",
            "configmap",
            "settings",
            "--from-literal=mode=demo",
        ]))
        .await;
    assert_eq!(created.trim(), "configmap/settings created");
    let created = kubectl
        .ok(&with_ns(&[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=hunter2",
        ]))
        .await;
    assert_eq!(created.trim(), "secret/creds created");
    let password = kubectl
        .ok(&with_ns(&[
            "get",
            "secret",
            "creds",
            "-o",
            "jsonpath={.data.password}",
        ]))
        .await;
    assert_eq!(password, "aHVudGVyMg==");
    let created = kubectl
        .ok(&with_ns(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
        ]))
        .await;
    assert_eq!(created.trim(), "deployment.apps/web created");

    // 8: apply.
    let manifest = dir.path().join("svc.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    let applied = kubectl
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .await;
    assert_eq!(applied.trim(), "service/web created");

    // 9-11: wait, rollout status, get.
    kubectl
        .ok(&with_ns(&[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=30s",
        ]))
        .await;
    let rollout = kubectl
        .ok(&with_ns(&[
            "rollout",
            "status",
            "deploy/web",
            "--timeout=30s",
        ]))
        .await;
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    let table = kubectl.ok(&with_ns(&["get", "deploy"])).await;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web") && l.contains("1/1")),
        "{table}"
    );

    // 12-15: output formats.
    let yaml = kubectl
        .ok(&with_ns(&["get", "deploy", "web", "-o", "yaml"]))
        .await;
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("availableReplicas: 1"),
        "{yaml}"
    );
    let json = kubectl
        .ok(&with_ns(&["get", "configmap", "settings", "-o", "json"]))
        .await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["data"]["mode"], "demo");
    let wide = kubectl.ok(&with_ns(&["get", "pods", "-o", "wide"])).await;
    assert!(
        wide.contains("Running") && wide.contains("kwok-node-0"),
        "{wide}"
    );
    let replicas = kubectl
        .ok(&with_ns(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas}",
        ]))
        .await;
    assert_eq!(replicas, "1");

    // 16: describe.
    let described = kubectl.ok(&with_ns(&["describe", "deploy", "web"])).await;
    assert!(
        described.contains("ScalingReplicaSet") && described.contains("nginx:1.27"),
        "{described}"
    );

    // 17-20: scale, patch, label, annotate.
    let scaled = kubectl
        .ok(&with_ns(&["scale", "deploy", "web", "--replicas=2"]))
        .await;
    assert_eq!(scaled.trim(), "deployment.apps/web scaled");
    assert_eq!(
        kubectl
            .ok(&with_ns(&[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.replicas}"
            ]))
            .await,
        "2"
    );
    let patched = kubectl
        .ok(&with_ns(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"metadata":{"labels":{"tier":"front"}}}"#,
        ]))
        .await;
    assert_eq!(patched.trim(), "deployment.apps/web patched");
    let labelled = kubectl
        .ok(&with_ns(&["label", "configmap", "settings", "team=a"]))
        .await;
    assert_eq!(labelled.trim(), "configmap/settings labeled");
    let annotated = kubectl
        .ok(&with_ns(&["annotate", "configmap", "settings", "note=x"]))
        .await;
    assert_eq!(annotated.trim(), "configmap/settings annotated");
    let metadata = kubectl
        .ok(&with_ns(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.metadata.labels.team}/{.metadata.annotations.note}",
        ]))
        .await;
    assert_eq!(metadata, "a/x");

    // 21: edit with an editor that changes nothing.
    let (edited, stdout, stderr) = kubectl
        .run_with(
            &with_ns(&["edit", "configmap", "settings"]),
            None,
            &[("KUBE_EDITOR", "true"), ("EDITOR", "true")],
        )
        .await;
    assert!(
        edited && format!("{stdout}{stderr}").contains("Edit cancelled, no changes made."),
        "{stdout}{stderr}"
    );

    // 22: diff (a server-side dry run): exit status 1 with the change.
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {app: web}\n  ports: [{port: 8080}]\n",
    )
    .unwrap();
    let (same, diff, stderr) = kubectl
        .run(&["diff", "-f", manifest.to_str().unwrap()], None)
        .await;
    assert!(
        !same && diff.contains("+  - port: 8080"),
        "{diff}\n{stderr}"
    );
    assert_eq!(
        kubectl
            .ok(&with_ns(&[
                "get",
                "svc",
                "web",
                "-o",
                "jsonpath={.spec.ports[0].port}"
            ]))
            .await,
        "80",
        "diff must not change anything"
    );

    // 23-24: explain (OpenAPI v3 schemas) and auth can-i (access review).
    let explained = kubectl.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(
        explained.contains("FIELD: replicas <integer>")
            && explained.contains("Number of desired pods"),
        "{explained}"
    );
    let can = kubectl
        .ok(&with_ns(&["auth", "can-i", "create", "pods"]))
        .await;
    assert_eq!(can.trim(), "yes");

    // 25: get -w, stopped after a while: the initial list, then changes.
    let watch = {
        let args = with_ns(&["get", "configmaps", "-w"]);
        let watching = kubectl.run_for(&args, Duration::from_secs(4));
        let change = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            kubectl
                .ok(&with_ns(&["create", "configmap", "later"]))
                .await;
        };
        let (output, ()) = tokio::join!(watching, change);
        output
    };
    assert!(
        watch.contains("settings") && watch.contains("later"),
        "{watch}"
    );

    // 26: delete.
    let deleted = kubectl
        .ok(&with_ns(&["delete", "configmap", "settings"]))
        .await;
    // kubectl 1.37 (built by `cargo xtask`, first on the tests' PATH) names
    // the namespace; older ones (a distribution's) do not.
    assert!(
        [
            "configmap \"settings\" deleted from demo namespace",
            "configmap \"settings\" deleted"
        ]
        .contains(&deleted.trim()),
        "{deleted}"
    );
    let (found, _, _) = kubectl
        .run(&with_ns(&["get", "configmap", "settings"]), None)
        .await;
    assert!(!found);

    // 27: top needs the metrics API, which neither cluster serves.
    let (ok, _, stderr) = kubectl.run(&with_ns(&["top", "pods"]), None).await;
    assert!(
        !ok && stderr.contains("Metrics API not available"),
        "{stderr}"
    );

    server.abort();
}
