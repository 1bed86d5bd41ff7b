//! `WatchStores`: list-then-watch, resume tokens, resync, heartbeats,
//! replicas sharing one PostgreSQL database, and clean shutdown.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use pb::watch_stores_response::EventType;
use storeplane_e2e::{Backend, Server, create_request, fresh_database, on_both_backends, v1 as pb};
use tonic::{Code, Streaming};

on_both_backends!(
    watch_lists_then_streams_every_change,
    resuming_delivers_exactly_what_was_missed,
    stale_or_foreign_tokens_require_a_resync,
    idle_streams_get_heartbeats,
    shutdown_ends_streams_with_unavailable_to_resume_elsewhere,
);

/// How long a test waits for an event before failing.
const PATIENCE: Duration = Duration::from_secs(20);

async fn next(stream: &mut Streaming<pb::WatchStoresResponse>) -> Result<pb::WatchStoresResponse> {
    loop {
        let event = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .context("no watch event in time")??
            .context("watch stream ended")?;
        if event.r#type() != EventType::Heartbeat {
            return Ok(event);
        }
    }
}

fn describe(event: &pb::WatchStoresResponse) -> (EventType, String, pb::StorePhase) {
    let store = event.store.clone().unwrap_or_default();
    (event.r#type(), store.name.clone(), store.phase())
}

async fn watch(server: &Server, token: &str) -> Result<Streaming<pb::WatchStoresResponse>> {
    Ok(server
        .stores()
        .await?
        .watch_stores(pb::WatchStoresRequest {
            resume_token: token.into(),
        })
        .await?
        .into_inner())
}

async fn delete(server: &Server, name: &str) -> Result<()> {
    server
        .stores()
        .await?
        .delete_store(pb::DeleteStoreRequest {
            name: name.into(),
            ..Default::default()
        })
        .await?;
    Ok(())
}

async fn watch_lists_then_streams_every_change(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("first")).await?;
    stores.create_store(create_request("second")).await?;

    let mut stream = watch(&server, "").await?;
    let a = next(&mut stream).await?;
    let b = next(&mut stream).await?;
    assert_eq!(describe(&a).1, "first");
    assert_eq!(describe(&b).1, "second");
    assert_eq!(a.r#type(), EventType::Added);
    // Initial-list events carry no token: a client cut off mid-list lists again.
    assert_eq!(a.resume_token, "");
    let done = next(&mut stream).await?;
    assert_eq!(done.r#type(), EventType::InitialListComplete);
    ensure!(!done.resume_token.is_empty());

    stores.create_store(create_request("third")).await?;
    let added = next(&mut stream).await?;
    assert_eq!(
        describe(&added),
        (
            EventType::Added,
            "third".into(),
            pb::StorePhase::Provisioning
        )
    );
    ensure!(added.resume_token.parse::<i64>()? > done.resume_token.parse::<i64>()?);

    delete(&server, "first").await?;
    assert_eq!(
        describe(&next(&mut stream).await?),
        (
            EventType::Modified,
            "first".into(),
            pb::StorePhase::Deleting
        )
    );
    assert_eq!(
        describe(&next(&mut stream).await?),
        (EventType::Deleted, "first".into(), pb::StorePhase::Deleting)
    );
    Ok(())
}

async fn resuming_delivers_exactly_what_was_missed(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("before")).await?;
    let mut stream = watch(&server, "").await?;
    next(&mut stream).await?;
    let token = next(&mut stream).await?.resume_token;
    drop(stream);

    // Missed while disconnected.
    stores.create_store(create_request("during")).await?;
    delete(&server, "before").await?;

    let mut resumed = watch(&server, &token).await?;
    let missed = [
        next(&mut resumed).await?,
        next(&mut resumed).await?,
        next(&mut resumed).await?,
    ];
    let missed: Vec<_> = missed.iter().map(describe).collect();
    assert_eq!(
        missed,
        [
            (
                EventType::Added,
                "during".into(),
                pb::StorePhase::Provisioning
            ),
            (
                EventType::Modified,
                "before".into(),
                pb::StorePhase::Deleting
            ),
            (
                EventType::Deleted,
                "before".into(),
                pb::StorePhase::Deleting
            ),
        ]
    );
    // And then live changes, with nothing replayed twice.
    stores.create_store(create_request("after")).await?;
    assert_eq!(describe(&next(&mut resumed).await?).1, "after");
    Ok(())
}

async fn stale_or_foreign_tokens_require_a_resync(backend: Backend) -> Result<()> {
    let db = fresh_database(backend).await?;
    // Keep only the last two changes.
    let server = Server::start_on(&db, &["--watch-history", "2"]).await?;
    let mut stores = server.stores().await?;
    for i in 0..5 {
        stores
            .create_store(create_request(&format!("s-{i}")))
            .await?;
    }
    let mut stale = watch(&server, "1").await?;
    assert_eq!(next(&mut stale).await?.r#type(), EventType::ResyncRequired);
    ensure!(
        tokio::time::timeout(PATIENCE, stale.message())
            .await??
            .is_none(),
        "stream must end after RESYNC_REQUIRED"
    );

    // A token from the future (e.g. another database) also means resync.
    let mut future = watch(&server, "999999").await?;
    assert_eq!(next(&mut future).await?.r#type(), EventType::ResyncRequired);

    // Garbage is not a token.
    let status = stores
        .watch_stores(pb::WatchStoresRequest {
            resume_token: "yesterday".into(),
        })
        .await
        .err()
        .context("garbage token accepted")?;
    assert_eq!(status.code(), Code::InvalidArgument);
    Ok(())
}

async fn idle_streams_get_heartbeats(backend: Backend) -> Result<()> {
    // The harness runs servers with a 1 s heartbeat.
    let server = Server::start(backend).await?;
    let mut stream = watch(&server, "").await?;
    let done = next(&mut stream).await?;
    assert_eq!(done.r#type(), EventType::InitialListComplete);
    let beat = tokio::time::timeout(PATIENCE, stream.message())
        .await??
        .context("stream ended")?;
    assert_eq!(beat.r#type(), EventType::Heartbeat);
    assert_eq!(beat.resume_token, done.resume_token);
    Ok(())
}

async fn shutdown_ends_streams_with_unavailable_to_resume_elsewhere(
    backend: Backend,
) -> Result<()> {
    let mut server = Server::start(backend).await?;
    let mut stream = watch(&server, "").await?;
    next(&mut stream).await?;
    let status = server.terminate().await?;
    ensure!(status.success(), "storeplane exited with {status}");
    // The stream ends with UNAVAILABLE saying why, not with a transport
    // error nor with OK (which would tell the client the watch is over):
    // the client resumes with its last token on another replica.
    loop {
        match tokio::time::timeout(PATIENCE, stream.message()).await? {
            Ok(None) => bail!("the stream ended with OK"),
            Ok(Some(event)) if event.r#type() == EventType::Heartbeat => {}
            Ok(Some(event)) => bail!("unexpected event {event:?}"),
            Err(status) => {
                ensure!(
                    status.code() == Code::Unavailable
                        && status.message().contains("shutting down"),
                    "stream ended with {status}"
                );
                return Ok(());
            }
        }
    }
}

/// Two replicas on one PostgreSQL database: a store created through one
/// appears on a watch served by the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_see_each_others_changes() -> Result<()> {
    let db = fresh_database(Backend::Postgres).await?;
    let a = Server::start_on(&db, &[]).await?;
    let mut b = Server::start_on(&db, &[]).await?;
    // Only the first start of a database prints the administrator token.
    ensure!(b.admin_token.is_empty(), "a second admin token was created");
    b.admin_token = a.admin_token.clone();
    let mut on_b = watch(&b, "").await?;
    assert_eq!(
        next(&mut on_b).await?.r#type(),
        EventType::InitialListComplete
    );
    a.stores()
        .await?
        .create_store(create_request("via-a"))
        .await?;
    assert_eq!(
        describe(&next(&mut on_b).await?),
        (
            EventType::Added,
            "via-a".into(),
            pb::StorePhase::Provisioning
        )
    );
    delete(&a, "via-a").await?;
    assert_eq!(describe(&next(&mut on_b).await?).0, EventType::Modified);
    assert_eq!(describe(&next(&mut on_b).await?).0, EventType::Deleted);
    // And the other way round, on a watch that resumes.
    let mut on_a = watch(&a, "").await?;
    let token = next(&mut on_a).await?.resume_token;
    b.stores()
        .await?
        .create_store(create_request("via-b"))
        .await?;
    assert_eq!(describe(&next(&mut on_a).await?).1, "via-b");
    let mut resumed = watch(&b, &token).await?;
    assert_eq!(describe(&next(&mut resumed).await?).1, "via-b");
    Ok(())
}
