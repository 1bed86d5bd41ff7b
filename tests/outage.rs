//! Database outages: calls fail fast with `UNAVAILABLE` and `RetryInfo`,
//! health follows the database, open watches survive, and nothing accepted
//! is lost or duplicated once the database is back.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use pb::watch_stores_response::EventType;
use sqlx::Connection as _;
use storeplane_e2e::{
    Backend, Server, ThrowawayPostgres, create_request, fresh_database, provisioning_args,
    v1 as pb, wait_for,
};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

/// The behavioural bound of the issue: a call the database cannot answer
/// is answered within this (debug build, loaded machine included).
const PROMPT: Duration = Duration::from_secs(2);
/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(30);

fn static_site(name: &str, request_id: &str) -> pb::CreateStoreRequest {
    let mut req = create_request(name);
    req.engine = "static-site".into();
    req.config = Some(prost_types::Struct::default());
    req.request_id = request_id.into();
    req
}

async fn health(server: &Server) -> Result<ServingStatus> {
    health_of(server, "storeplane.v1.StoreService").await
}

async fn health_of(server: &Server, service: &str) -> Result<ServingStatus> {
    Ok(HealthClient::new(server.channel().await?)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?
        .into_inner()
        .status())
}

/// Waits until health says `want`, for at most `within`.
async fn health_becomes(server: &Server, want: ServingStatus, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let now = health(server).await?;
        if now == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "health stayed {now:?}, expected {want:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A new database on the throwaway server.
async fn database_on(pg: &ThrowawayPostgres) -> Result<String> {
    let pool = sqlx::PgPool::connect(&pg.url()).await?;
    sqlx::query("CREATE DATABASE outage").execute(&pool).await?;
    pool.close().await;
    let url = pg.url();
    let base = url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .context("URL path")?;
    Ok(format!("{base}/outage"))
}

/// PostgreSQL stopped for 30 s in the middle of a burst of creates: every
/// call meanwhile answers UNAVAILABLE with RetryInfo within 2 s, health is
/// NOT_SERVING and then SERVING again, the open watch stays open, and
/// afterwards every accepted store (creates refused during the outage are
/// retried with their request id, as a client would) is Ready exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_fast_and_loses_nothing() -> Result<()> {
    let pg = ThrowawayPostgres::start()?;
    let url = database_on(&pg).await?;
    let args = provisioning_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_on(&url, &args).await?;
    let mut stores = server.stores().await?;
    let mut watch = server.watch().await?;

    // Before: half of the burst is accepted.
    let mut accepted: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..20 {
        let name = format!("before-{i}");
        let store = stores
            .create_store(static_site(&name, &format!("req-{name}")))
            .await?
            .into_inner();
        accepted.insert(name, store.id);
    }

    pg.pause()?;
    let outage_started = Instant::now();
    let mut refused = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut saw_not_serving = false;
    let mut i = 0;
    while outage_started.elapsed() < OUTAGE {
        let name = format!("during-{i}");
        i += 1;
        let asked = Instant::now();
        let result = stores
            .create_store(static_site(&name, &format!("req-{name}")))
            .await;
        let took = asked.elapsed();
        slowest = slowest.max(took);
        match result {
            Ok(store) => bail!("a create succeeded with the database down: {store:?}"),
            Err(status) => {
                ensure!(
                    status.code() == Code::Unavailable,
                    "during the outage: {status:?}"
                );
                ensure!(
                    status
                        .get_error_details()
                        .retry_info()
                        .and_then(|r| r.retry_delay)
                        .is_some(),
                    "UNAVAILABLE without RetryInfo"
                );
            }
        }
        ensure!(took < PROMPT, "a call took {took:?} during the outage");
        let asked = Instant::now();
        let read = stores.list_stores(pb::ListStoresRequest::default()).await;
        let took = asked.elapsed();
        slowest = slowest.max(took);
        ensure!(
            read.as_ref().err().map(tonic::Status::code) == Some(Code::Unavailable),
            "a read during the outage: {read:?}"
        );
        ensure!(took < PROMPT, "a read took {took:?} during the outage");
        refused.push(name);
        saw_not_serving |= health(&server).await? == ServingStatus::NotServing;
        // Liveness is the process's, not the database's: a restart would
        // not bring the database back.
        ensure!(
            health_of(&server, "storeplane.liveness").await? == ServingStatus::Serving,
            "liveness failed during a database outage"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ensure!(saw_not_serving, "health never said NOT_SERVING");
    println!(
        "outage: {} creates refused, slowest call {slowest:?}",
        refused.len()
    );
    pg.resume()?;
    health_becomes(&server, ServingStatus::Serving, Duration::from_secs(20)).await?;

    // After: the refused creates are retried with their request ids, the
    // rest of the burst goes through.
    for name in &refused {
        let store = stores
            .create_store(static_site(name, &format!("req-{name}")))
            .await?
            .into_inner();
        accepted.insert(name.clone(), store.id);
    }
    for i in 0..20 {
        let name = format!("after-{i}");
        let store = stores
            .create_store(static_site(&name, &format!("req-{name}")))
            .await?
            .into_inner();
        accepted.insert(name, store.id);
    }

    // The watch opened before the outage is still open and sees new stores.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline.into(), watch.message())
            .await
            .context("the watch saw nothing after the outage")?
            .context("the watch ended during the outage")?
            .context("the watch ended during the outage")?;
        if event.r#type() == EventType::Added
            && event.store.as_ref().is_some_and(|s| s.name == "after-19")
        {
            break;
        }
    }

    let names: Vec<&str> = accepted.keys().map(String::as_str).collect();
    wait_for(&server, &names, pb::StorePhase::Ready).await?;
    let listed = stores
        .list_stores(pb::ListStoresRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await?
        .into_inner()
        .stores;
    let listed_names: BTreeSet<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    let listed_ids: BTreeSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed.len(), accepted.len(), "lost or duplicated stores");
    assert_eq!(listed_names.len(), listed.len(), "duplicate names");
    assert_eq!(listed_ids.len(), listed.len(), "duplicate ids");
    for store in &listed {
        assert_eq!(
            accepted.get(&store.name),
            Some(&store.id),
            "{} is not the store that was accepted",
            store.name
        );
        assert_eq!(store.phase(), pb::StorePhase::Ready, "{}", store.name);
    }
    Ok(())
}

/// SQLite whose file another process holds locked: writes answer
/// UNAVAILABLE (with RetryInfo) once the 2 s busy timeout passes, reads
/// still answer, and writes succeed again once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_file_makes_writes_unavailable_until_released() -> Result<()> {
    let db = fresh_database(Backend::Sqlite).await?;
    let server = Server::start_on(&db, &["--rate-limit-per-tenant", "0"]).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("before-lock")).await?;

    // Another process's exclusive transaction (this test's own connection).
    let mut locker = sqlx::SqliteConnection::connect(&db).await?;
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await?;
    sqlx::query("INSERT INTO audit_log (created_at, tenant_id, token_id, client_address, method, resource, parameters, outcome, message) VALUES ('2026-01-01 00:00:00', '', '', '', 'lock', '', '{}', 'OK', '')")
        .execute(&mut locker)
        .await?;

    let asked = Instant::now();
    let status = stores
        .create_store(create_request("while-locked"))
        .await
        .expect_err("a write succeeded while the file was locked");
    let took = asked.elapsed();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    ensure!(
        status.get_error_details().retry_info().is_some(),
        "no RetryInfo"
    );
    ensure!(took < Duration::from_secs(5), "the write took {took:?}");
    stores
        .list_stores(pb::ListStoresRequest::default())
        .await
        .context("reads stop while the file is locked")?;

    sqlx::query("ROLLBACK").execute(&mut locker).await?;
    drop(locker);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match stores.create_store(create_request("after-lock")).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(status) => bail!("after the lock was released: {status:?}"),
        }
    }
    health_becomes(&server, ServingStatus::Serving, Duration::from_secs(20)).await?;
    Ok(())
}
