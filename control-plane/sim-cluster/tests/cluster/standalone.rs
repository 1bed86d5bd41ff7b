//! Standalone mode: the kubeconfig it writes drives a real `kube::Client`
//! over HTTP, the control plane's real-cluster path.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::conditions;
use storeplane_sim_cluster::{SimConfig, Standalone, StandaloneOptions};

use super::{deployment, object, wait_for};

#[tokio::test]
async fn kubeconfig_from_standalone_mode_reaches_the_cluster_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.kubeconfig");
    let standalone = Standalone::start(StandaloneOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        write_kubeconfig: Some(path.clone()),
        config: SimConfig::instant(),
    })
    .await
    .unwrap();
    let url = standalone.url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(standalone.run(async {
        let _ = stopped.await;
    }));

    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let options = KubeConfigOptions {
        context: Some("storeplane-sim".to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), url);
    let client = kube::Client::try_from(config).unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_owned()), "{names:?}");

    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    wait_for(&deployments, "web", conditions::is_deployment_completed()).await;

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
