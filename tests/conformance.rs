//! The cluster conformance test (issue 14, point 4): ONE script of the API
//! interactions storeplane relies on, and every common kubectl verb, runs
//! against the simulated cluster (served over HTTP, as `storeplane
//! sim-cluster` serves it) and against a real Kubernetes control plane
//! (`STOREPLANE_TEST_KUBECONFIG`, set by `cargo xtask test`). Each step
//! records a normalised outcome (status code, reason, message, the
//! relevant object fields; generated names, uids, resourceVersions, times
//! and ages replaced) and the two clusters' outcomes are compared field by
//! field. A difference fails the test with a diff per step: fix the
//! simulator, or, where it deliberately differs, list the difference in
//! `control-plane/sim-cluster/README.md` and leave it out of the outcome
//! here, saying why.
//!
//! The script runs as independent parts (each in namespaces of its own,
//! named `<run>-<part>`), concurrently, so that the real cluster's slow
//! steps (the namespace controller's 5 s grace, rollouts) overlap.

#![allow(clippy::expect_used, clippy::unwrap_used)] // A failed expectation is the test failing.

#[path = "conformance/admission.rs"]
mod admission;
#[path = "conformance/cluster.rs"]
mod cluster;
#[path = "conformance/kubectl.rs"]
mod kubectl;
#[path = "conformance/namespace.rs"]
mod namespace;
#[path = "conformance/normalize.rs"]
mod normalize;
#[path = "conformance/plugin.rs"]
mod plugin;
#[path = "conformance/reads.rs"]
mod reads;
#[path = "conformance/ssa.rs"]
mod ssa;
#[path = "conformance/watch.rs"]
mod watch;
#[path = "conformance/workloads.rs"]
mod workloads;

use std::{collections::BTreeMap, future::Future, pin::Pin, time::Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use storeplane_sim_cluster::{SimConfig, Standalone, StandaloneOptions};

use crate::cluster::Target;

/// The outcomes of one part of the script, in order.
pub struct Steps {
    part: &'static str,
    list: Vec<(String, Value)>,
}

impl Steps {
    /// Records the outcome of a step.
    pub fn record(&mut self, step: &str, outcome: Value) {
        self.list.push((format!("{}/{step}", self.part), outcome));
    }
}

/// One part of the script as a future yielding its outcomes; an error is
/// recorded as the part's last step, so the comparison still shows
/// everything before it.
macro_rules! part {
    ($name:literal, $t:expr, $module:ident) => {
        Box::pin(async {
            let mut steps = Steps {
                part: $name,
                list: Vec::new(),
            };
            if let Err(error) = $module::run($t, &mut steps).await {
                steps.record("error", json!(format!("{error:#}")));
            }
            steps.list
        }) as Pin<Box<dyn Future<Output = Vec<(String, Value)>> + '_>>
    };
}

/// The whole script against one cluster.
async fn script(t: &Target) -> Vec<(String, Value)> {
    let parts = futures::future::join_all([
        part!("ssa", t, ssa),
        part!("read", t, reads),
        part!("watch", t, watch),
        part!("namespace", t, namespace),
        part!("admission", t, admission),
        part!("kubectl", t, kubectl),
        part!("plugin", t, plugin),
        part!("workload", t, workloads),
    ])
    .await;
    parts.into_iter().flatten().collect()
}

/// Deletes every namespace of this run (the real cluster is shared).
async fn clean_up(t: &Target) -> Result<()> {
    let list = t.get("/api/v1/namespaces").await?;
    for ns in list.body["items"].as_array().into_iter().flatten() {
        let name = ns["metadata"]["name"].as_str().unwrap_or_default();
        let ours = name.starts_with(&format!("{}-", t.run))
            || name.starts_with(&format!("store-{}-", t.run));
        if ours && ns["metadata"]["deletionTimestamp"].is_null() {
            t.delete(&format!("/api/v1/namespaces/{name}"), None, None)
                .await?;
        }
    }
    Ok(())
}

/// The simulated cluster, served on a free loopback port as `storeplane
/// sim-cluster` serves it, with no kubelet delays and "etcd" compacted
/// every second (the real cluster every 10 s) so the `410 Gone` step does
/// not wait, and without an ingress controller, as the real cluster. Stops
/// when the returned sender is dropped.
async fn simulated(
    run: &str,
    work: &std::path::Path,
) -> Result<(Target, tokio::sync::oneshot::Sender<()>)> {
    let mut config = SimConfig::instant();
    config.set_option("compaction-interval", "1s")?;
    // The real cluster has no ingress controller, so its Ingresses get no
    // address; the simulator models one by default (see its README).
    config.set_option("ingress-address", "none")?;
    let kubeconfig = work.join("kubeconfig");
    let standalone = Standalone::start(StandaloneOptions {
        listen: "127.0.0.1:0".parse()?,
        write_kubeconfig: Some(kubeconfig.clone()),
        config,
    })
    .await?;
    let url = standalone.url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = standalone
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((
        Target {
            name: "simulated",
            client: storeplane_e2e::kube_client(&url)?,
            kubeconfig,
            run: run.to_owned(),
            work: work.to_owned(),
        },
        stop,
    ))
}

/// The real cluster of `STOREPLANE_TEST_KUBECONFIG`.
async fn real(run: &str, work: &std::path::Path) -> Result<Target> {
    let kubeconfig = storeplane_e2e::clusters::real_kubeconfig()?;
    Ok(Target {
        name: "real",
        client: storeplane_e2e::clusters::real_client().await?,
        kubeconfig,
        run: run.to_owned(),
        work: work.to_owned(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulated_and_real_clusters_answer_the_script_alike() -> Result<()> {
    let started = Instant::now();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let run = format!("cf-{}", &id[..5]);
    let root = storeplane_e2e::repo_root()
        .join("target/e2e")
        .join(format!("conformance-{run}"));
    let (sim_work, real_work) = (root.join("simulated"), root.join("real"));
    std::fs::create_dir_all(&sim_work)?;
    std::fs::create_dir_all(&real_work)?;
    let real = real(&run, &real_work)
        .await
        .context("the conformance test needs the real cluster")?;
    let (sim, stop_sim) = simulated(&run, &sim_work).await?;

    let (sim_steps, real_steps) = tokio::join!(script(&sim), script(&real));
    let cleaned = clean_up(&real).await;
    drop(stop_sim);

    let sim_steps: BTreeMap<String, Value> = sim_steps.into_iter().collect();
    let real_steps: BTreeMap<String, Value> = real_steps.into_iter().collect();
    let mut report = Vec::new();
    let mut names: Vec<&String> = sim_steps.keys().chain(real_steps.keys()).collect();
    names.sort();
    names.dedup();
    for name in &names {
        let (a, b) = (sim_steps.get(*name), real_steps.get(*name));
        let mut lines = Vec::new();
        match (a, b) {
            (Some(a), Some(b)) => normalize::diff("", a, b, &mut lines),
            (a, b) => lines.push(format!(
                "only on the {} cluster: {}",
                if a.is_some() { "simulated" } else { "real" },
                a.or(b).cloned().unwrap_or_default()
            )),
        }
        if name.ends_with("/error") {
            lines.push(format!(
                "the part failed: {}",
                a.or(b).cloned().unwrap_or_default()
            ));
        }
        if !lines.is_empty() {
            report.push(format!("step {name}:\n  {}", lines.join("\n  ")));
        }
    }
    let outcomes = root.join("outcomes.json");
    std::fs::write(
        &outcomes,
        serde_json::to_vec_pretty(&json!({"simulated": sim_steps, "real": real_steps}))?,
    )?;
    eprintln!(
        "conformance: {} steps compared in {:.1}s (outcomes in {})",
        names.len(),
        started.elapsed().as_secs_f64(),
        outcomes.display()
    );
    std::fs::write(root.join("report.txt"), report.join("\n\n"))?;
    cleaned.context("cleaning up the real cluster")?;
    anyhow::ensure!(
        report.is_empty(),
        "the simulated and the real cluster differ in {} of {} steps:\n\n{}",
        report.len(),
        names.len(),
        report.join("\n\n")
    );
    Ok(())
}
