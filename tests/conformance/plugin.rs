//! A cluster-scoped kind refused for a plugin. The refusal is storeplane's
//! (the plugin host asks the cluster's discovery whether a kind is
//! namespaced), so it goes through the product: the real `storeplane
//! serve` provisioning on this cluster through its kubeconfig, with the
//! `misbehave` test plugin applying a PriorityClass (as
//! `tests/plugin_sandbox.rs` does). Both clusters must make it refuse the
//! same way.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use storeplane_e2e::{Backend, Server, engine_request, fresh_database, v1 as pb};

use crate::{Steps, cluster::Target, normalize};

/// Provisioning until the plugin runs: the namespace and its baseline.
const PATIENCE: Duration = Duration::from_secs(90);

/// Whether the store's timeline gets its `PluginDenied` event. It may be
/// written just after the store turned `Failed` (the product's order, not
/// the cluster's), so it is waited for a moment.
async fn plugin_denied_recorded(server: &Server, name: &str) -> Result<bool> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let timeline = server.timeline(name).await?;
        if timeline.iter().any(|e| e.reason == "PluginDenied") {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The plugin step.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let kubeconfig = t.kubeconfig.display().to_string();
    let plugins = storeplane_e2e::plugins_dir().display().to_string();
    let cache = storeplane_e2e::repo_root()
        .join("target/plugin-cache")
        .display()
        .to_string();
    let args = [
        "--cluster",
        "kubernetes",
        "--kubeconfig",
        &kubeconfig,
        "--plugins-dir",
        &plugins,
        "--plugin-cache",
        &cache,
        "--rate-limit-per-tenant",
        "0",
        "--rate-limit-per-address",
        "0",
    ];
    let mut server = Server::start_on(&fresh_database(Backend::Sqlite).await?, &args).await?;
    let name = t.ns("plugin");
    server
        .stores()
        .await?
        .create_store(engine_request(
            &name,
            "misbehave",
            json!({"mode": "cluster-scoped"}),
        ))
        .await?;
    let outcome =
        storeplane_e2e::wait_for_within(&server, &[&name], pb::StorePhase::Failed, PATIENCE).await;
    let recorded = match outcome {
        Ok(stores) => {
            let store = stores.first().cloned().unwrap_or_default();
            json!({
                "phase": format!("{:?}", store.phase()),
                "failureReason": store.failure_reason,
                "failureMessage": normalize::text(&store.failure_message),
                "pluginDeniedOnTimeline": plugin_denied_recorded(&server, &name).await?,
            })
        }
        Err(error) => json!({"error": normalize::text(&format!("{error:#}"))}),
    };
    steps.record("cluster-scoped-kind-refused", recorded);
    server.kill().await?;
    Ok(())
}
