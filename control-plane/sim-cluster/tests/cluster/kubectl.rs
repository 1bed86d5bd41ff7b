//! The real `kubectl` against the HTTP server: discovery, Table output,
//! apply, yaml output, selectors, describe, and namespace deletion.

use std::path::{Path, PathBuf};

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

impl Kubectl {
    /// Runs kubectl and returns stdout; panics with stderr on failure.
    async fn ok(&self, args: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(args, None).await;
        assert!(success, "kubectl {args:?} failed:\n{stderr}\n{stdout}");
        stdout
    }

    async fn run(&self, args: &[&str], stdin: Option<&Path>) -> (bool, String, String) {
        let mut command = tokio::process::Command::new(&self.binary);
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
        let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
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
