//! grpcurl, the real binary, against a running `storeplane serve` with no
//! `.proto` files: everything comes from server reflection.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::{process::Stdio, time::Duration};

use anyhow::{Context, Result, bail, ensure};
use storeplane_e2e::{Backend, Server, create_request, v1 as pb};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
    sync::mpsc,
};

fn grpcurl() -> Result<String> {
    std::env::var("GRPCURL").context(
        "GRPCURL is not set: run the tests with `cargo xtask test`, which installs grpcurl",
    )
}

/// Runs grpcurl to completion: (success, stdout + stderr).
async fn run(args: &[&str]) -> Result<(bool, String)> {
    let out = Command::new(grpcurl()?).args(args).output().await?;
    Ok(output(out))
}

fn output(out: std::process::Output) -> (bool, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_and_calls_through_reflection() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    let addr = server.addr.as_str();
    let auth = format!("authorization: Bearer {}", server.admin_token);

    // Reflection and health need no token.
    let (ok, listed) = run(&["-plaintext", addr, "list"]).await?;
    ensure!(ok, "list failed: {listed}");
    for service in [
        "storeplane.v1.StoreService",
        "storeplane.v1.EngineService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        ensure!(
            listed.contains(service),
            "{service} missing from:\n{listed}"
        );
    }

    let (ok, described) =
        run(&["-plaintext", addr, "describe", "storeplane.v1.StoreService"]).await?;
    ensure!(ok, "describe failed: {described}");
    ensure!(described.contains("rpc WatchStores"), "{described}");
    ensure!(
        described.contains("returns ( stream .storeplane.v1.WatchStoresResponse )"),
        "{described}"
    );
    let (ok, message) = run(&["-plaintext", addr, "describe", "storeplane.v1.Store"]).await?;
    ensure!(ok && message.contains("observed_generation"), "{message}");

    // An invalid name: InvalidArgument with a BadRequest field violation for `name`.
    let (ok, error) = run(&[
        "-plaintext",
        "-H",
        &auth,
        "-d",
        r#"{"name": "Not Valid!", "engine": "woocommerce", "config": {"admin_email": "a@b.example"}}"#,
        addr,
        "storeplane.v1.StoreService/CreateStore",
    ])
    .await?;
    ensure!(!ok, "invalid create succeeded: {error}");
    ensure!(error.contains("Code: InvalidArgument"), "{error}");
    ensure!(error.contains("google.rpc.BadRequest"), "{error}");
    ensure!(error.contains(r#""field":"name""#), "{error}");

    let (ok, created) = run(&[
        "-plaintext",
        "-H",
        &auth,
        "-d",
        r#"{"name": "from-grpcurl", "engine": "woocommerce", "config": {"admin_email": "a@b.example", "sample_products": 3}}"#,
        addr,
        "storeplane.v1.StoreService/CreateStore",
    ])
    .await?;
    ensure!(ok, "create failed: {created}");
    ensure!(created.contains("STORE_PHASE_PROVISIONING"), "{created}");

    let (ok, health) = run(&["-plaintext", addr, "grpc.health.v1.Health/Check"]).await?;
    ensure!(ok && health.contains("SERVING"), "{health}");

    // Without a token the API refuses, and says how to authenticate.
    let (ok, refused) = run(&[
        "-plaintext",
        "-d",
        "{}",
        addr,
        "storeplane.v1.StoreService/ListStores",
    ])
    .await?;
    ensure!(
        !ok && refused.contains("Code: Unauthenticated"),
        "{refused}"
    );
    ensure!(refused.contains("authorization"), "{refused}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_watch_prints_a_create_and_a_delete_made_by_another_client() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    let mut watcher = Command::new(grpcurl()?)
        .args([
            "-plaintext",
            "-H",
            &format!("authorization: Bearer {}", server.admin_token),
            "-d",
            "{}",
            &server.addr,
            "storeplane.v1.StoreService/WatchStores",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut lines = BufReader::new(watcher.stdout.take().context("stdout")?).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let mut wait_for = async |needle: &str| -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !printed.contains(needle) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => {
                    printed.push_str(&line);
                    printed.push('\n');
                }
                Ok(None) => bail!("grpcurl exited; it printed:\n{printed}"),
                Err(_) => bail!("grpcurl never printed {needle:?}; it printed:\n{printed}"),
            }
        }
        Ok(())
    };
    wait_for("INITIAL_LIST_COMPLETE").await?;

    let mut other = server.stores().await?;
    other
        .create_store(create_request("seen-by-grpcurl"))
        .await?;
    wait_for("seen-by-grpcurl").await?;
    wait_for(r#""type": "ADDED""#).await?;
    other
        .delete_store(pb::DeleteStoreRequest {
            name: "seen-by-grpcurl".into(),
            ..Default::default()
        })
        .await?;
    wait_for(r#""type": "DELETED""#).await?;
    watcher.kill().await?;
    Ok(())
}

/// grpcurl speaks reflection v1alpha; newer tools and Postman speak v1.
/// Both must list the same services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_both_answer() -> Result<()> {
    use tonic_reflection::pb::{v1, v1alpha};
    let server = Server::start(Backend::Sqlite).await?;

    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(server.channel().await?);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await?
        .into_inner();
    let response = stream.message().await?.context("no v1 response")?;
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        bail!("unexpected v1 response {response:?}");
    };
    let v1_names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    ensure!(
        v1_names.iter().any(|n| n == "storeplane.v1.StoreService"),
        "{v1_names:?}"
    );

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel().await?);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await?
        .into_inner();
    let response = stream.message().await?.context("no v1alpha response")?;
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        bail!("unexpected v1alpha response {response:?}");
    };
    let alpha_names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    ensure!(
        alpha_names
            .iter()
            .any(|n| n == "storeplane.v1.EngineService"),
        "{alpha_names:?}"
    );
    Ok(())
}
