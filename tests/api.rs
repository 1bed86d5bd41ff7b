//! Every StoreService / EngineService RPC and error path, over a real
//! socket, against SQLite and PostgreSQL.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use anyhow::{Context, Result, ensure};
use storeplane_e2e::{
    Backend, Server, config, create_request, force_failed, on_both_backends, v1 as pb,
    violated_fields,
};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    create_returns_a_provisioning_store_with_every_field,
    create_rejects_invalid_input_with_field_violations,
    create_with_a_taken_name_is_already_exists,
    idempotent_create_returns_the_original_store,
    get_finds_by_id_or_name_and_rejects_bad_references,
    list_pages_in_creation_order_and_filters,
    list_rejects_bad_tokens_sizes_and_phases,
    delete_checks_the_etag_and_removes_the_store,
    retry_only_from_failed,
    store_events_are_the_timeline,
    engines_come_with_their_config_schema,
    health_and_reflection_are_served,
    migrate_command_prepares_the_database,
    custom_domains_are_checked_and_unique_on_the_platform,
    suspend_and_resume_change_the_desired_state_once,
    backup_requests_are_checked_before_anything_is_written,
);

async fn create_returns_a_provisioning_store_with_every_field(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let mut req = create_request("corner-shop");
    req.config = Some(config(&[
        ("admin_email", "owner@example.com"),
        ("currency", "EUR"),
    ]));
    let store = stores.create_store(req).await?.into_inner();
    ensure!(
        uuid::Uuid::parse_str(&store.id).is_ok(),
        "id {:?}",
        store.id
    );
    assert_eq!(store.name, "corner-shop");
    assert_eq!(store.tenant, "tenants/default");
    assert_eq!(store.engine, "woocommerce");
    assert_eq!(store.phase(), pb::StorePhase::Provisioning);
    assert_eq!(store.generation, 1);
    assert_eq!(store.observed_generation, 0);
    ensure!(!store.etag.is_empty());
    ensure!(store.create_time.is_some() && store.update_time.is_some());
    let config = store.config.context("config")?;
    assert_eq!(config.fields.len(), 2);
    assert!(config.fields.contains_key("currency"));
    assert_eq!(store.failure_reason, "");
    Ok(())
}

async fn create_rejects_invalid_input_with_field_violations(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    for bad in [
        "",
        "ab",
        "My-Shop",
        "shop_1",
        "1shop",
        "shop-",
        &"a".repeat(41),
    ] {
        let status = stores
            .create_store(create_request(bad))
            .await
            .expect_err(bad);
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(violated_fields(&status), ["name"], "{bad:?}");
    }

    // Several problems at once are reported together.
    let status = stores
        .create_store(pb::CreateStoreRequest {
            name: "Bad Name".into(),
            engine: String::new(),
            config: None,
            request_id: "has space".into(),
            tenant: String::new(),
            custom_domains: Vec::new(),
            from_backup: String::new(),
            backup_schedule: None,
        })
        .await
        .expect_err("invalid");
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["engine", "name", "request_id"]);

    let mut req = create_request("good-name");
    req.engine = "magento".into();
    let status = stores.create_store(req).await.expect_err("unknown engine");
    assert_eq!(violated_fields(&status), ["engine"]);
    assert!(
        status.message().contains("woocommerce"),
        "{}",
        status.message()
    );

    // The engine's JSON Schema is enforced, naming the config field.
    let mut req = create_request("good-name");
    req.config = Some(config(&[
        ("admin_email", "not-an-email"),
        ("currency", "XYZ"),
    ]));
    let status = stores.create_store(req).await.expect_err("bad config");
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["config.admin_email", "config.currency"]);

    let mut req = create_request("good-name");
    req.config = None;
    let status = stores.create_store(req).await.expect_err("missing email");
    assert_eq!(violated_fields(&status), ["config.admin_email"]);

    // Nothing was created by any of these.
    let list = stores
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner();
    assert!(list.stores.is_empty());
    Ok(())
}

async fn create_with_a_taken_name_is_already_exists(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("taken")).await?;
    let status = stores
        .create_store(create_request("taken"))
        .await
        .expect_err("duplicate");
    assert_eq!(status.code(), Code::AlreadyExists);
    let info = status.get_error_details();
    assert_eq!(
        info.resource_info().map(|r| r.resource_name.as_str()),
        Some("taken")
    );
    Ok(())
}

async fn idempotent_create_returns_the_original_store(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let key = uuid::Uuid::new_v4().to_string();
    let mut req = create_request("once");
    req.request_id = key.clone();
    let first = stores.create_store(req.clone()).await?.into_inner();
    for _ in 0..3 {
        let again = stores.create_store(req.clone()).await?.into_inner();
        assert_eq!(again.id, first.id);
    }
    let list = stores
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner();
    assert_eq!(list.stores.len(), 1);

    // The same key with a different request is refused and says why.
    let mut other = create_request("twice");
    other.request_id = key;
    let status = stores.create_store(other).await.expect_err("key reuse");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    let violation = details
        .precondition_failure()
        .and_then(|p| p.violations.first())
        .context("precondition violation")?;
    assert_eq!(violation.r#type, "IDEMPOTENCY_KEY");
    assert!(status.message().contains("different request"));
    Ok(())
}

async fn get_finds_by_id_or_name_and_rejects_bad_references(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let created = stores
        .create_store(create_request("findme"))
        .await?
        .into_inner();
    let by_id = stores
        .get_store(pb::GetStoreRequest {
            id: created.id.clone(),
            name: String::new(),
        })
        .await?
        .into_inner();
    let by_name = stores
        .get_store(pb::GetStoreRequest {
            id: String::new(),
            name: "findme".into(),
        })
        .await?
        .into_inner();
    assert_eq!(by_id, created);
    assert_eq!(by_name, created);

    let cases = [
        ("", "", Code::InvalidArgument),
        (created.id.as_str(), "findme", Code::InvalidArgument),
        ("not-a-uuid", "", Code::InvalidArgument),
        ("", "Not_A_Name", Code::InvalidArgument),
        ("", "missing", Code::NotFound),
        ("0190f5d2-0000-7000-8000-000000000000", "", Code::NotFound),
    ];
    for (id, name, code) in cases {
        let status = stores
            .get_store(pb::GetStoreRequest {
                id: id.into(),
                name: name.into(),
            })
            .await
            .expect_err("bad reference");
        assert_eq!(status.code(), code, "id={id:?} name={name:?}");
        if code == Code::InvalidArgument {
            assert!(!violated_fields(&status).is_empty());
        }
    }
    Ok(())
}

async fn list_pages_in_creation_order_and_filters(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let mut names = Vec::new();
    for i in 0..7 {
        let name = format!("shop-{i}");
        let mut req = create_request(&name);
        if i % 3 == 0 {
            req.engine = "medusa".into();
        }
        stores.create_store(req).await?;
        names.push(name);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = stores
            .list_stores(pb::ListStoresRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        pages += 1;
        ensure!(page.stores.len() <= 3);
        seen.extend(page.stores.into_iter().map(|s| s.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);

    let medusa = stores
        .list_stores(pb::ListStoresRequest {
            engine: "medusa".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let medusa: Vec<String> = medusa.stores.into_iter().map(|s| s.name).collect();
    assert_eq!(medusa, ["shop-0", "shop-3", "shop-6"]);

    force_failed(&server.database_url, "shop-4").await?;
    let failed = stores
        .list_stores(pb::ListStoresRequest {
            phases: vec![pb::StorePhase::Failed.into()],
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(failed.stores.len(), 1);
    assert_eq!(failed.stores[0].name, "shop-4");
    let active = stores
        .list_stores(pb::ListStoresRequest {
            phases: vec![
                pb::StorePhase::Provisioning.into(),
                pb::StorePhase::Ready.into(),
            ],
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(active.stores.len(), 6);
    Ok(())
}

async fn list_rejects_bad_tokens_sizes_and_phases(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    for i in 0..3 {
        stores
            .create_store(create_request(&format!("shop-{i}")))
            .await?;
    }
    let first = stores
        .list_stores(pb::ListStoresRequest {
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(!first.next_page_token.is_empty());

    let bad = [
        pb::ListStoresRequest {
            page_size: -1,
            ..Default::default()
        },
        pb::ListStoresRequest {
            page_token: "garbage".into(),
            ..Default::default()
        },
        // A token used with other filters than the ones it was issued for.
        pb::ListStoresRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            engine: "medusa".into(),
            ..Default::default()
        },
        pb::ListStoresRequest {
            phases: vec![0],
            ..Default::default()
        },
    ];
    let expected = ["page_size", "page_token", "page_token", "phases"];
    for (req, field) in bad.into_iter().zip(expected) {
        let status = stores.list_stores(req).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(violated_fields(&status), [field]);
    }
    Ok(())
}

async fn delete_checks_the_etag_and_removes_the_store(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let store = stores
        .create_store(create_request("doomed"))
        .await?
        .into_inner();
    let status = stores
        .delete_store(pb::DeleteStoreRequest {
            id: store.id.clone(),
            name: String::new(),
            etag: "\"999\"".into(),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
    // Still there after the refused delete.
    stores
        .get_store(pb::GetStoreRequest {
            id: store.id.clone(),
            name: String::new(),
        })
        .await?;

    let deleting = stores
        .delete_store(pb::DeleteStoreRequest {
            id: store.id.clone(),
            name: String::new(),
            etag: store.etag.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(deleting.phase(), pb::StorePhase::Deleting);
    assert_eq!(deleting.generation, 2);
    // With no cluster resources to remove the record goes at once.
    let status = stores
        .get_store(pb::GetStoreRequest {
            id: store.id.clone(),
            name: String::new(),
        })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);

    let status = stores
        .delete_store(pb::DeleteStoreRequest {
            id: String::new(),
            name: "doomed".into(),
            etag: String::new(),
        })
        .await
        .expect_err("already gone");
    assert_eq!(status.code(), Code::NotFound);

    // The name is free again.
    stores.create_store(create_request("doomed")).await?;
    Ok(())
}

async fn retry_only_from_failed(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let store = stores
        .create_store(create_request("flaky"))
        .await?
        .into_inner();
    let retry = || pb::RetryStoreRequest {
        id: String::new(),
        name: "flaky".into(),
    };
    let status = stores.retry_store(retry()).await.expect_err("not failed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    let violation = details
        .precondition_failure()
        .and_then(|p| p.violations.first())
        .context("precondition violation")?;
    assert_eq!(violation.r#type, "STORE_PHASE");
    assert_eq!(violation.subject, format!("stores/{}", store.id));
    assert!(
        status.message().contains("Provisioning"),
        "{}",
        status.message()
    );

    force_failed(&server.database_url, "flaky").await?;
    let failed = stores
        .get_store(pb::GetStoreRequest {
            id: store.id.clone(),
            name: String::new(),
        })
        .await?
        .into_inner();
    assert_eq!(failed.phase(), pb::StorePhase::Failed);
    assert_eq!(failed.failure_reason, "ProvisioningTimedOut");

    let retried = stores.retry_store(retry()).await?.into_inner();
    assert_eq!(retried.phase(), pb::StorePhase::Provisioning);
    assert_eq!(retried.generation, 2);
    assert_eq!(retried.failure_reason, "");

    let status = stores
        .retry_store(pb::RetryStoreRequest {
            id: String::new(),
            name: "nope".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    Ok(())
}

async fn store_events_are_the_timeline(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("history")).await?;
    force_failed(&server.database_url, "history").await?;
    stores
        .retry_store(pb::RetryStoreRequest {
            id: String::new(),
            name: "history".into(),
        })
        .await?;
    let req = |page_token: String| pb::ListStoreEventsRequest {
        id: String::new(),
        name: "history".into(),
        page_size: 1,
        page_token,
    };
    let first = stores
        .list_store_events(req(String::new()))
        .await?
        .into_inner();
    assert_eq!(first.events.len(), 1);
    assert_eq!(first.events[0].reason, "Created");
    assert_eq!(first.events[0].outcome(), pb::EventOutcome::Info);
    ensure!(first.events[0].time.is_some());
    let second = stores
        .list_store_events(req(first.next_page_token))
        .await?
        .into_inner();
    assert_eq!(second.events.len(), 1);
    assert_eq!(second.events[0].reason, "RetryRequested");
    assert!(second.events[0].message.contains("ProvisioningTimedOut"));
    ensure!(second.events[0].id > first.events[0].id);
    assert_eq!(second.next_page_token, "");

    let status = stores
        .list_store_events(pb::ListStoreEventsRequest {
            name: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    Ok(())
}

async fn engines_come_with_their_config_schema(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let engines = server
        .engines()
        .await?
        .list_engines(pb::ListEnginesRequest {})
        .await?
        .into_inner()
        .engines;
    let ids: Vec<&str> = engines.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["medusa", "woocommerce"]);
    for engine in &engines {
        let schema: serde_json::Value = serde_json::from_str(&engine.config_schema)?;
        assert_eq!(schema["type"], "object", "{}", engine.id);
        ensure!(!engine.display_name.is_empty() && !engine.version.is_empty());
    }
    Ok(())
}

async fn health_and_reflection_are_served(backend: Backend) -> Result<()> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = Server::start(backend).await?;
    let mut health = HealthClient::new(server.channel().await?);
    for service in [
        "",
        "storeplane.v1.StoreService",
        "storeplane.v1.EngineService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await?
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    Ok(())
}

/// `storeplane migrate` prepares a database (and is a no-op the second
/// time); `serve` then starts on it.
async fn migrate_command_prepares_the_database(backend: Backend) -> Result<()> {
    let db = storeplane_e2e::fresh_database(backend).await?;
    for _ in 0..2 {
        let out = tokio::process::Command::new(storeplane_e2e::binary()?)
            .args(["migrate", "--database-url", &db])
            .output()
            .await?;
        ensure!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start_on(&db, &[]).await?;
    server
        .stores()
        .await?
        .create_store(create_request("migrated"))
        .await?;
    Ok(())
}

async fn custom_domains_are_checked_and_unique_on_the_platform(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let mut req = create_request("branded");
    req.custom_domains = vec!["shop.my-brand.com".into(), "www.my-brand.com".into()];
    let branded = stores.create_store(req).await?.into_inner();
    assert_eq!(
        branded.custom_domains,
        ["shop.my-brand.com", "www.my-brand.com"]
    );

    // Bad domains: every one named, nothing created.
    let mut bad = create_request("bad-domains");
    bad.custom_domains = vec![
        "Shop.Example.com".into(),
        "localhost".into(),
        "other.localhost".into(),
        "ok.example.org".into(),
        "ok.example.org".into(),
    ];
    let status = stores.create_store(bad).await.expect_err("bad domains");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "custom_domains[0]",
            "custom_domains[1]",
            "custom_domains[2]",
            "custom_domains[4]"
        ]
    );
    assert!(
        status.message().contains("platform's own domain"),
        "{}",
        status.message()
    );

    // A domain another store has: ALREADY_EXISTS, and nothing is created.
    let mut thief = create_request("thief");
    thief.custom_domains = vec!["www.my-brand.com".into()];
    let status = stores.create_store(thief).await.expect_err("taken domain");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status
            .message()
            .contains("custom_domains[0]: www.my-brand.com"),
        "{}",
        status.message()
    );
    let status = stores
        .get_store(pb::GetStoreRequest {
            id: String::new(),
            name: "thief".into(),
        })
        .await
        .expect_err("not created");
    assert_eq!(status.code(), Code::NotFound);

    // Replacing the list frees what is dropped, guarded by the etag.
    let stale = branded.etag.clone();
    let moved = stores
        .set_store_custom_domains(pb::SetStoreCustomDomainsRequest {
            id: String::new(),
            name: "branded".into(),
            custom_domains: vec!["shop.my-brand.com".into()],
            etag: branded.etag.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(moved.custom_domains, ["shop.my-brand.com"]);
    assert_eq!(moved.generation, branded.generation + 1);
    let status = stores
        .set_store_custom_domains(pb::SetStoreCustomDomainsRequest {
            id: String::new(),
            name: "branded".into(),
            custom_domains: Vec::new(),
            etag: stale,
        })
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
    let mut second = create_request("second-brand");
    second.custom_domains = vec!["www.my-brand.com".into()];
    let second = stores.create_store(second).await?.into_inner();
    assert_eq!(second.custom_domains, ["www.my-brand.com"]);
    // Setting the same list again is no new generation.
    let same = stores
        .set_store_custom_domains(pb::SetStoreCustomDomainsRequest {
            id: second.id.clone(),
            name: String::new(),
            custom_domains: vec!["www.my-brand.com".into()],
            etag: String::new(),
        })
        .await?
        .into_inner();
    assert_eq!(same.generation, second.generation);
    let status = stores
        .set_store_custom_domains(pb::SetStoreCustomDomainsRequest {
            id: second.id.clone(),
            name: String::new(),
            custom_domains: vec!["shop.my-brand.com".into()],
            etag: String::new(),
        })
        .await
        .expect_err("the other store's domain");
    assert_eq!(status.code(), Code::AlreadyExists);
    Ok(())
}

async fn suspend_and_resume_change_the_desired_state_once(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    let store = stores
        .create_store(create_request("napping"))
        .await?
        .into_inner();
    let suspend = |etag: &str| pb::SuspendStoreRequest {
        id: String::new(),
        name: "napping".into(),
        etag: etag.into(),
    };
    let status = stores
        .suspend_store(suspend("\"999\""))
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
    let suspended = stores
        .suspend_store(suspend(&store.etag))
        .await?
        .into_inner();
    assert!(suspended.suspended);
    assert_eq!(suspended.generation, store.generation + 1);
    // Asked twice: unchanged.
    let again = stores.suspend_store(suspend("")).await?.into_inner();
    assert_eq!(again.generation, suspended.generation);
    let events = stores
        .list_store_events(pb::ListStoreEventsRequest {
            id: store.id.clone(),
            name: String::new(),
            page_size: 50,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .events;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason == "SuspendRequested")
            .count(),
        1
    );
    let resumed = stores
        .resume_store(pb::ResumeStoreRequest {
            id: store.id.clone(),
            name: String::new(),
            etag: String::new(),
        })
        .await?
        .into_inner();
    assert!(!resumed.suspended);
    assert_eq!(resumed.generation, suspended.generation + 1);
    // The phase filter knows SUSPENDED.
    let listed = stores
        .list_stores(pb::ListStoresRequest {
            phases: vec![pb::StorePhase::Suspended as i32],
            ..Default::default()
        })
        .await?
        .into_inner();
    assert!(listed.stores.is_empty());
    // A deleted store is neither suspended nor resumed.
    stores
        .delete_store(pb::DeleteStoreRequest {
            id: store.id.clone(),
            name: String::new(),
            etag: String::new(),
        })
        .await?;
    let status = stores
        .suspend_store(pb::SuspendStoreRequest {
            id: store.id.clone(),
            name: String::new(),
            etag: String::new(),
        })
        .await
        .expect_err("gone");
    assert!(
        matches!(status.code(), Code::NotFound | Code::FailedPrecondition),
        "{status:?}"
    );
    let engines = server
        .engines()
        .await?
        .list_engines(pb::ListEnginesRequest {})
        .await?
        .into_inner()
        .engines;
    for engine in &engines {
        assert_eq!(
            engine.operations,
            ["suspend", "resume", "backup", "restore"],
            "{}",
            engine.id
        );
        assert_eq!(engine.plugin_api, "0.2.0", "{}", engine.id);
    }
    Ok(())
}

/// The backup RPCs' checks, on a control plane that records stores only
/// (so none is ever Ready): each refusal names its field or precondition and
/// writes nothing. The runs themselves are in tests/provisioning.rs.
async fn backup_requests_are_checked_before_anything_is_written(backend: Backend) -> Result<()> {
    let server = Server::start(backend).await?;
    let mut stores = server.stores().await?;
    stores.create_store(create_request("keeper")).await?;

    // Not Ready: nothing to dump yet.
    let status = stores
        .create_backup(pb::CreateBackupRequest {
            store_name: "keeper".into(),
            ..Default::default()
        })
        .await
        .expect_err("provisioning");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("only a Ready store"),
        "{status:?}"
    );
    let listed = stores
        .list_backups(pb::ListBackupsRequest::default())
        .await?
        .into_inner();
    assert!(listed.backups.is_empty(), "{listed:?}");
    let store = stores
        .get_store(pb::GetStoreRequest {
            name: "keeper".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(
        store.operation, None,
        "a refused backup leaves no operation"
    );

    // Ids: malformed is INVALID_ARGUMENT naming the field, unknown NOT_FOUND.
    let bad = stores
        .get_backup(pb::GetBackupRequest {
            id: "yesterday".into(),
        })
        .await
        .expect_err("not an id");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["id"]);
    let unknown = uuid::Uuid::now_v7().to_string();
    for status in [
        stores
            .get_backup(pb::GetBackupRequest {
                id: unknown.clone(),
            })
            .await
            .expect_err("unknown"),
        stores
            .delete_backup(pb::DeleteBackupRequest {
                id: unknown.clone(),
            })
            .await
            .expect_err("unknown"),
        stores
            .restore_store(pb::RestoreStoreRequest {
                name: "keeper".into(),
                backup: unknown.clone(),
                ..Default::default()
            })
            .await
            .expect_err("unknown"),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    let mut clone = create_request("keeper-copy");
    clone.from_backup = "last-week".into();
    let status = stores
        .create_store(clone.clone())
        .await
        .expect_err("not an id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        violated_fields(&status).contains(&"from_backup".to_owned()),
        "{status:?}"
    );
    clone.from_backup = unknown;
    let status = stores
        .create_store(clone)
        .await
        .expect_err("unknown backup");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = stores
        .get_store(pb::GetStoreRequest {
            name: "keeper-copy".into(),
            ..Default::default()
        })
        .await
        .expect_err("nothing was created");
    assert_eq!(status.code(), Code::NotFound);

    // Schedules: checked fields, then kept on the store; an empty cron
    // removes it.
    let schedule = |cron: &str, retention| pb::SetStoreBackupScheduleRequest {
        name: "keeper".into(),
        schedule: Some(pb::BackupSchedule {
            cron: cron.into(),
            retention,
        }),
        ..Default::default()
    };
    let status = stores
        .set_store_backup_schedule(schedule("0 3 * *", 500))
        .await
        .expect_err("four fields, too many kept");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["schedule.cron", "schedule.retention"]);
    let set = stores
        .set_store_backup_schedule(schedule("30 2 * * 0", 4))
        .await?
        .into_inner();
    assert_eq!(
        set.backup_schedule,
        Some(pb::BackupSchedule {
            cron: "30 2 * * 0".into(),
            retention: 4
        })
    );
    let removed = stores
        .set_store_backup_schedule(schedule("", 0))
        .await?
        .into_inner();
    assert_eq!(removed.backup_schedule, None);
    Ok(())
}
