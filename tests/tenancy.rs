//! Tenancy and abuse limits over real sockets: authentication, isolation,
//! quotas, rate limits, the audit log and secrets hygiene.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use storeplane_e2e::{
    Backend, Server, config, create_request, fresh_database, on_both_backends, v1 as pb,
};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    tenants_cannot_see_or_touch_each_others_stores,
    quota_holds_under_twenty_concurrent_creates,
    every_mutating_call_is_audited_without_secrets,
    command_line_tokens_work_until_revoked,
);

fn no_limits() -> [&'static str; 4] {
    [
        "--rate-limit-per-tenant",
        "0",
        "--rate-limit-per-address",
        "0",
    ]
}

async fn start(backend: Backend, args: &[&str]) -> Result<Server> {
    Server::start_on(&fresh_database(backend).await?, args).await
}

/// The newest 100 audit entries, as an administrator sees them.
async fn all_audit_entries(server: &Server) -> Result<Vec<pb::AuditEntry>> {
    Ok(server
        .audit_as(&server.admin_token)
        .await?
        .list_audit_entries(pb::ListAuditEntriesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .entries)
}

fn by_name<T: Default>(name: &str, make: impl FnOnce(String) -> T) -> T {
    make(name.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_calls_fail_except_health_reflection_and_info() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    ensure!(
        server.admin_token.starts_with("spt_"),
        "no admin token printed"
    );
    for token in ["", "spt_0123_abcd", "not-a-token"] {
        let mut stores = server.stores_as(token).await?;
        let mut admin = server.admin_as(token).await?;
        let mut audit = server.audit_as(token).await?;
        let mut engines = storeplane_proto::v1::engine_service_client::EngineServiceClient::new(
            server.authed(token).await?,
        );
        let codes = [
            stores.create_store(create_request("x-shop")).await.err(),
            stores
                .get_store(by_name("x-shop", |name| pb::GetStoreRequest {
                    name,
                    ..Default::default()
                }))
                .await
                .err(),
            stores
                .list_stores(pb::ListStoresRequest::default())
                .await
                .err(),
            stores
                .delete_store(by_name("x-shop", |name| pb::DeleteStoreRequest {
                    name,
                    ..Default::default()
                }))
                .await
                .err(),
            stores
                .retry_store(by_name("x-shop", |name| pb::RetryStoreRequest {
                    name,
                    ..Default::default()
                }))
                .await
                .err(),
            stores
                .watch_stores(pb::WatchStoresRequest::default())
                .await
                .err(),
            stores
                .list_store_events(by_name("x-shop", |name| pb::ListStoreEventsRequest {
                    name,
                    ..Default::default()
                }))
                .await
                .err(),
            engines.list_engines(pb::ListEnginesRequest {}).await.err(),
            admin.list_tenants(pb::ListTenantsRequest {}).await.err(),
            admin
                .create_tenant(pb::CreateTenantRequest {
                    id: "acme".into(),
                    ..Default::default()
                })
                .await
                .err(),
            admin
                .list_tokens(pb::ListTokensRequest::default())
                .await
                .err(),
            audit
                .list_audit_entries(pb::ListAuditEntriesRequest::default())
                .await
                .err(),
        ];
        for (i, status) in codes.into_iter().enumerate() {
            let status =
                status.with_context(|| format!("call {i} succeeded with token {token:?}"))?;
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "call {i}, token {token:?}"
            );
        }
    }
    let mut info =
        storeplane_proto::v1::info_service_client::InfoServiceClient::new(server.channel().await?);
    let info = info
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner();
    assert!(info.auth_required);
    assert_eq!(info.database, "sqlite");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_expired_tokens_stop_working() -> Result<()> {
    let server = Server::start(Backend::Sqlite).await?;
    let mut admin = server.admin_as(&server.admin_token).await?;
    let issue = |ttl: Option<prost_types::Duration>| pb::CreateTokenRequest {
        tenant: "tenants/default".into(),
        role: pb::Role::Member.into(),
        description: "short-lived".into(),
        ttl,
    };
    let revoked = admin.create_token(issue(None)).await?.into_inner();
    let expiring = admin
        .create_token(issue(Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        })))
        .await?
        .into_inner();
    let list = pb::ListStoresRequest::default();
    server
        .stores_as(&revoked.secret)
        .await?
        .list_stores(list.clone())
        .await?;
    server
        .stores_as(&expiring.secret)
        .await?
        .list_stores(list.clone())
        .await?;

    let id = revoked.token.context("token")?.id;
    let after = admin
        .revoke_token(pb::RevokeTokenRequest { id })
        .await?
        .into_inner();
    ensure!(after.revoke_time.is_some());
    let status = server
        .stores_as(&revoked.secret)
        .await?
        .list_stores(list.clone())
        .await
        .expect_err("revoked token accepted");
    assert_eq!(status.code(), Code::Unauthenticated);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = server
        .stores_as(&expiring.secret)
        .await?
        .list_stores(list)
        .await
        .expect_err("expired token accepted");
    assert_eq!(status.code(), Code::Unauthenticated);

    // A member cannot administer.
    let member = admin.create_token(issue(None)).await?.into_inner();
    let status = server
        .admin_as(&member.secret)
        .await?
        .list_tenants(pb::ListTenantsRequest {})
        .await
        .expect_err("member administered");
    assert_eq!(status.code(), Code::PermissionDenied);
    Ok(())
}

async fn tenants_cannot_see_or_touch_each_others_stores(backend: Backend) -> Result<()> {
    let server = start(backend, &[]).await?;
    let a = server.tenant_with_token("tenant-a", None).await?;
    let b = server.tenant_with_token("tenant-b", None).await?;
    let mut as_a = server.stores_as(&a).await?;
    let mut as_b = server.stores_as(&b).await?;

    let mut b_watch = as_b
        .watch_stores(pb::WatchStoresRequest::default())
        .await?
        .into_inner();
    let first = b_watch.message().await?.context("watch ended")?;
    assert_eq!(
        first.r#type(),
        pb::watch_stores_response::EventType::InitialListComplete
    );

    let a_store = as_a
        .create_store(create_request("a-shop"))
        .await?
        .into_inner();
    assert_eq!(a_store.tenant, "tenants/tenant-a");
    let id = a_store.id.clone();
    let not_found = [
        as_b.get_store(pb::GetStoreRequest {
            id: id.clone(),
            name: String::new(),
        })
        .await
        .err(),
        as_b.get_store(by_name("a-shop", |name| pb::GetStoreRequest {
            name,
            ..Default::default()
        }))
        .await
        .err(),
        as_b.delete_store(pb::DeleteStoreRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await
        .err(),
        as_b.retry_store(pb::RetryStoreRequest {
            id: id.clone(),
            name: String::new(),
        })
        .await
        .err(),
        as_b.list_store_events(pb::ListStoreEventsRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await
        .err(),
    ];
    for (i, status) in not_found.into_iter().enumerate() {
        let status = status.with_context(|| format!("call {i} reached another tenant's store"))?;
        // NOT_FOUND, never PERMISSION_DENIED: existence does not leak.
        assert_eq!(status.code(), Code::NotFound, "call {i}");
    }
    let listed = as_b
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner();
    ensure!(
        listed.stores.is_empty(),
        "B lists A's stores: {:?}",
        listed.stores
    );

    // B's watch carries B's store, and nothing of A's.
    as_b.create_store(create_request("b-shop")).await?;
    let next = b_watch.message().await?.context("watch ended")?;
    assert_eq!(next.store.context("store")?.name, "b-shop");

    // A member cannot create for another tenant; an admin can.
    let mut for_b = create_request("sneaky");
    for_b.tenant = "tenants/tenant-b".into();
    let status = as_a
        .create_store(for_b.clone())
        .await
        .expect_err("cross-tenant create");
    assert_eq!(status.code(), Code::PermissionDenied);
    let created = server
        .stores()
        .await?
        .create_store(for_b)
        .await?
        .into_inner();
    assert_eq!(created.tenant, "tenants/tenant-b");
    // The administrator sees every tenant's stores.
    let all = server
        .stores()
        .await?
        .list_stores(pb::ListStoresRequest::default())
        .await?;
    assert_eq!(all.into_inner().stores.len(), 3);
    Ok(())
}

async fn quota_holds_under_twenty_concurrent_creates(backend: Backend) -> Result<()> {
    let server = start(backend, &no_limits()).await?;
    let token = server
        .tenant_with_token(
            "limited",
            Some(pb::Quota {
                max_stores: Some(5),
                max_concurrent_provisions: None,
                allowed_engines: vec!["woocommerce".into()],
            }),
        )
        .await?;
    let mut calls = Vec::new();
    for i in 0..20 {
        let mut client = server.stores_as(&token).await?;
        calls.push(tokio::spawn(async move {
            client
                .create_store(create_request(&format!("race-{i}")))
                .await
        }));
    }
    let mut created = 0;
    for call in calls {
        match call.await? {
            Ok(_) => created += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let details = status.get_error_details();
                let violation = details
                    .quota_failure()
                    .and_then(|q| q.violations.first())
                    .context("QuotaFailure detail")?;
                assert_eq!(violation.subject, "tenants/limited");
                ensure!(
                    violation
                        .description
                        .contains("max_stores of tenants/limited is 5")
                );
            }
        }
    }
    assert_eq!(
        created, 5,
        "the quota of 5 stores was overshot or undershot"
    );
    let listed = server
        .stores_as(&token)
        .await?
        .list_stores(pb::ListStoresRequest::default())
        .await?;
    assert_eq!(listed.into_inner().stores.len(), 5);

    // Engines outside the allowed list are refused.
    let mut medusa = create_request("other-engine");
    medusa.engine = "medusa".into();
    let status = server
        .stores_as(&token)
        .await?
        .create_store(medusa)
        .await
        .expect_err("engine not allowed");
    assert_eq!(status.code(), Code::PermissionDenied);

    // Concurrent provisioning is a separate limit, also enforced on retry.
    let busy = server
        .tenant_with_token(
            "busy",
            Some(pb::Quota {
                max_concurrent_provisions: Some(1),
                ..Default::default()
            }),
        )
        .await?;
    let mut stores = server.stores_as(&busy).await?;
    stores.create_store(create_request("busy-1")).await?;
    let status = stores
        .create_store(create_request("busy-2"))
        .await
        .expect_err("second provisioning");
    assert_eq!(status.code(), Code::ResourceExhausted);
    ensure!(
        status.message().contains("max_concurrent_provisions"),
        "{}",
        status.message()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_limits_apply_across_tenants() -> Result<()> {
    let server = start(Backend::Sqlite, &["--max-stores", "2"]).await?;
    let a = server.tenant_with_token("tenant-a", None).await?;
    let b = server.tenant_with_token("tenant-b", None).await?;
    server
        .stores_as(&a)
        .await?
        .create_store(create_request("one"))
        .await?;
    server
        .stores_as(&b)
        .await?
        .create_store(create_request("two"))
        .await?;
    let status = server
        .stores_as(&b)
        .await?
        .create_store(create_request("three"))
        .await
        .expect_err("platform cap");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let details = status.get_error_details();
    let subject = details
        .quota_failure()
        .and_then(|q| q.violations.first())
        .map(|v| v.subject.clone());
    assert_eq!(subject.as_deref(), Some("platform"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiter_trips_and_recovers() -> Result<()> {
    let server = start(
        Backend::Sqlite,
        &[
            "--rate-limit-per-tenant",
            "1",
            "--rate-limit-burst-per-tenant",
            "3",
            "--rate-limit-per-address",
            "0",
        ],
    )
    .await?;
    let mut stores = server.stores().await?;
    for i in 0..3 {
        stores
            .create_store(create_request(&format!("burst-{i}")))
            .await?;
    }
    let status = stores
        .create_store(create_request("burst-3"))
        .await
        .expect_err("rate limit did not trip");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let details = status.get_error_details();
    let delay = details
        .retry_info()
        .and_then(|r| r.retry_delay)
        .context("RetryInfo detail")?;
    ensure!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    // Reads have their own, higher limits.
    stores.list_stores(pb::ListStoresRequest::default()).await?;
    tokio::time::sleep(delay).await;
    stores.create_store(create_request("burst-3")).await?;

    // The per-address limit works the same way for any tenant.
    let by_address = start(
        Backend::Sqlite,
        &[
            "--rate-limit-per-tenant",
            "0",
            "--rate-limit-per-address",
            "1",
            "--rate-limit-burst-per-address",
            "1",
        ],
    )
    .await?;
    let mut stores = by_address.stores().await?;
    stores.create_store(create_request("first")).await?;
    let status = stores
        .create_store(create_request("second"))
        .await
        .expect_err("address limit did not trip");
    assert_eq!(status.code(), Code::ResourceExhausted);
    ensure!(
        status.message().contains("address/127.0.0.1"),
        "{}",
        status.message()
    );
    Ok(())
}

async fn every_mutating_call_is_audited_without_secrets(backend: Backend) -> Result<()> {
    let server = start(backend, &no_limits()).await?;
    let member = server.tenant_with_token("audited", None).await?;
    let mut stores = server.stores_as(&member).await?;
    stores.create_store(create_request("kept")).await?;
    // A secret-looking config value: refused by the schema, audited redacted.
    let mut leaky = create_request("leaky");
    leaky.config = Some(config(&[
        ("admin_email", "a@b.example"),
        ("admin_password", "hunter2-do-not-log"),
    ]));
    stores
        .create_store(leaky)
        .await
        .expect_err("schema refuses extra fields");
    stores
        .retry_store(by_name("kept", |name| pb::RetryStoreRequest {
            name,
            ..Default::default()
        }))
        .await
        .expect_err("not failed");
    stores
        .delete_store(by_name("kept", |name| pb::DeleteStoreRequest {
            name,
            ..Default::default()
        }))
        .await?;
    // Unauthenticated attempts are counted in metrics, not audited: an
    // anonymous caller cannot grow the audit table.
    server
        .stores_as("")
        .await?
        .create_store(create_request("anonymous"))
        .await
        .expect_err("unauthenticated");

    let entries = all_audit_entries(&server).await?;
    let seen: Vec<(String, String)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e.method.rsplit('/').next().unwrap_or_default().to_owned(),
                e.outcome.clone(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("CreateTenant", "OK"),
        ("CreateToken", "OK"),
        ("CreateStore", "OK"),
        ("CreateStore", "INVALID_ARGUMENT"),
        ("RetryStore", "FAILED_PRECONDITION"),
        ("DeleteStore", "OK"),
    ]
    .iter()
    .map(|(m, o)| ((*m).to_owned(), (*o).to_owned()))
    .collect();
    assert_eq!(seen, expected);
    let created = entries
        .iter()
        .find(|e| e.method.ends_with("CreateStore") && e.outcome == "OK")
        .context("create entry")?;
    assert_eq!(created.tenant, "tenants/audited");
    ensure!(created.resource.starts_with("stores/"));
    ensure!(!created.token_id.is_empty() && !created.client_address.is_empty());
    let dump = format!("{entries:?}");
    ensure!(!dump.contains("hunter2"), "secret in audit log");
    let member_secret = member.rsplit('_').next().unwrap_or_default();
    ensure!(!dump.contains(member_secret), "token secret in audit log");

    // A member sees only its own tenant's entries.
    let own = server
        .audit_as(&member)
        .await?
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await?
        .into_inner()
        .entries;
    ensure!(!own.is_empty() && own.iter().all(|e| e.tenant == "tenants/audited"));

    // Nothing secret reached the server's log either.
    let log = server.log();
    for secret in [&server.admin_token, &member, &"hunter2".to_owned()] {
        let part = secret.rsplit('_').next().unwrap_or(secret);
        ensure!(!log.contains(part), "secret {part:?} in the server log");
    }
    Ok(())
}

async fn command_line_tokens_work_until_revoked(backend: Backend) -> Result<()> {
    let db = fresh_database(backend).await?;
    let cli = |args: Vec<String>| {
        let db = db.clone();
        async move {
            let out = tokio::process::Command::new(storeplane_e2e::binary()?)
                .args(&args)
                .args(["--database-url", &db])
                .output()
                .await?;
            ensure!(
                out.status.success(),
                "{args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(String::from_utf8(out.stdout)?)
        }
    };
    let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    cli(words(
        "tenant create acme --display-name Acme --max-stores 3",
    ))
    .await?;
    let tenants = cli(words("tenant list")).await?;
    ensure!(
        tenants.contains("acme") && tenants.contains("Acme"),
        "{tenants}"
    );
    let token = cli(words("token create --tenant acme --description ci")).await?;
    let token = token.trim().to_owned();
    ensure!(token.starts_with("spt_"), "{token}");

    let server = Server::start_on(&db, &[]).await?;
    let store = server
        .stores_as(&token)
        .await?
        .create_store(create_request("cli-shop"))
        .await?
        .into_inner();
    assert_eq!(store.tenant, "tenants/acme");

    let id = token
        .strip_prefix("spt_")
        .and_then(|t| t.split('_').next())
        .context("token id")?;
    cli(vec!["token".into(), "revoke".into(), id.into()]).await?;
    let listed = cli(words("token list --tenant acme")).await?;
    ensure!(listed.contains("revoked"), "{listed}");
    let status = server
        .stores_as(&token)
        .await?
        .list_stores(pb::ListStoresRequest::default())
        .await
        .expect_err("revoked token accepted");
    assert_eq!(status.code(), Code::Unauthenticated);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_auth_is_announced_and_lets_everyone_in() -> Result<()> {
    let server = start(Backend::Sqlite, &["--auth", "disabled"]).await?;
    ensure!(server.admin_token.is_empty());
    server
        .stores_as("")
        .await?
        .create_store(create_request("open-door"))
        .await?;
    let info =
        storeplane_proto::v1::info_service_client::InfoServiceClient::new(server.channel().await?)
            .get_server_info(pb::GetServerInfoRequest {})
            .await?
            .into_inner();
    assert!(!info.auth_required);
    ensure!(
        info.notices
            .iter()
            .any(|n| n.contains("Authentication is disabled"))
    );
    ensure!(server.log().contains("AUTHENTICATION IS DISABLED"));
    Ok(())
}

/// A store's admin login is revealed only to its own tenant, through the
/// audited RevealStoreCredentials; the generated passwords (admin and
/// database) appear in no log line, audit entry, event or other response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_credentials_are_revealed_to_their_own_tenant_only_and_audited() -> Result<()> {
    let args = storeplane_e2e::provisioning_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start(Backend::Sqlite, &args).await?;
    let owner = server.tenant_with_token("owner", None).await?;
    let stranger = server.tenant_with_token("stranger", None).await?;
    let mut as_owner = server.stores_as(&owner).await?;
    let reveal = |name: &str| pb::RevealStoreCredentialsRequest {
        name: name.into(),
        ..Default::default()
    };

    as_owner
        .create_store(storeplane_e2e::engine_request(
            "vault",
            "woocommerce",
            serde_json::json!({"admin_email": "owner@example.com"}),
        ))
        .await?;
    as_owner
        .create_store(storeplane_e2e::engine_request(
            "broken",
            "misbehave",
            serde_json::json!({"mode": "fail"}),
        ))
        .await?;
    let ready = storeplane_e2e::wait_for(&server, &["vault"], pb::StorePhase::Ready).await?;
    let failed = storeplane_e2e::wait_for(&server, &["broken"], pb::StorePhase::Failed).await?;
    ensure!(ready[0].credentials_available && !failed[0].credentials_available);

    let revealed = as_owner
        .reveal_store_credentials(reveal("vault"))
        .await?
        .into_inner();
    assert_eq!(revealed.username, "owner@example.com");
    assert_eq!(
        revealed.login_url,
        ready[0].urls.clone().context("urls")?.admin
    );
    ensure!(
        revealed.secret.starts_with("store-vault/"),
        "{}",
        revealed.secret
    );
    // The value is the one in the cluster's Secret.
    let kube = server.kube().await?;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(kube, "store-vault");
    let mut generated = Vec::new();
    for secret in secrets.list(&Default::default()).await?.items {
        for value in secret.data.unwrap_or_default().into_values() {
            generated.push(String::from_utf8(value.0)?);
        }
    }
    ensure!(
        generated.len() >= 3,
        "admin and database passwords: {generated:?}"
    );
    ensure!(generated.contains(&revealed.password));
    assert_eq!(revealed.password.len(), 32);

    // Another tenant: no such store. An administrator of another tenant:
    // the store exists, its login is not theirs. No credentials reported
    // (the store failed before its engine reported any): FAILED_PRECONDITION.
    let mut as_stranger = server.stores_as(&stranger).await?;
    let refused = [
        (
            as_stranger.reveal_store_credentials(reveal("vault")).await,
            Code::NotFound,
        ),
        (
            server
                .stores()
                .await?
                .reveal_store_credentials(reveal("vault"))
                .await,
            Code::PermissionDenied,
        ),
        (
            as_owner.reveal_store_credentials(reveal("broken")).await,
            Code::FailedPrecondition,
        ),
    ];
    for (result, code) in refused {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), code, "{status:?}");
        ensure!(!status.message().contains(&revealed.password));
    }

    // Audited: who asked, for which store, and the outcome; never the value.
    let entries = all_audit_entries(&server).await?;
    let reveals: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .filter(|e| e.method.ends_with("/RevealStoreCredentials"))
        .map(|e| (e.tenant.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        reveals,
        [
            ("tenants/owner", "OK"),
            ("tenants/stranger", "NOT_FOUND"),
            ("tenants/default", "PERMISSION_DENIED"),
            ("tenants/owner", "FAILED_PRECONDITION"),
        ]
    );
    ensure!(
        entries
            .iter()
            .any(|e| e.method.ends_with("/RevealStoreCredentials")
                && e.resource == format!("stores/{}", ready[0].id))
    );

    // No generated password anywhere else: audit, events, store responses, log.
    let mut elsewhere = format!("{entries:?}");
    for name in ["vault", "broken"] {
        let store = as_owner
            .get_store(by_name(name, |name| pb::GetStoreRequest {
                name,
                ..Default::default()
            }))
            .await?
            .into_inner();
        let events = as_owner
            .list_store_events(pb::ListStoreEventsRequest {
                name: name.into(),
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner();
        elsewhere.push_str(&format!("{store:?}{events:?}"));
    }
    let log = server.log();
    ensure!(log.contains("store ready"), "the log was not captured");
    for secret in &generated {
        ensure!(
            !elsewhere.contains(secret.as_str()),
            "a generated password leaked into a response or the audit log"
        );
        ensure!(
            !log.contains(secret.as_str()),
            "a generated password leaked into the server log"
        );
    }
    Ok(())
}

/// The id part of `spt_<id>_<secret>`.
fn token_id(token: &str) -> Result<String> {
    token
        .strip_prefix("spt_")
        .and_then(|t| t.split('_').next())
        .map(str::to_owned)
        .context("token id")
}

/// Reads a watch until its initial list is complete.
async fn until_listed(stream: &mut tonic::Streaming<pb::WatchStoresResponse>) -> Result<()> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .context("no initial list")??
            .context("watch ended during its initial list")?;
        if event.r#type() == pb::watch_stores_response::EventType::InitialListComplete {
            return Ok(());
        }
    }
}

/// Reads a watch, skipping heartbeats, until it ends with an error or
/// `within` passes; returns the error (or fails on any store event).
async fn ends_with(
    stream: &mut tonic::Streaming<pb::WatchStoresResponse>,
    within: Duration,
) -> Result<tonic::Status> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Err(_) => anyhow::bail!("the watch was still open after {within:?}"),
            Ok(Err(status)) => return Ok(status),
            Ok(Ok(None)) => anyhow::bail!("the watch ended without a status"),
            Ok(Ok(Some(event))) => {
                ensure!(
                    event.r#type() == pb::watch_stores_response::EventType::Heartbeat,
                    "the watch delivered {:?} after its token stopped holding",
                    event.r#type()
                );
            }
        }
    }
}

/// Review finding 5: a revoked or expired token's watch ends with
/// UNAUTHENTICATED: at once when revoked through the API (before anything
/// committed later), within one heartbeat when revoked from the command
/// line, and exactly at `expires_at` when it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_end_when_their_token_is_revoked_or_expires() -> Result<()> {
    let server = start(Backend::Sqlite, &no_limits()).await?;
    let member = server.tenant_with_token("watcher", None).await?;
    let mut admin = server.admin_as(&server.admin_token).await?;
    let mut watch = server
        .stores_as(&member)
        .await?
        .watch_stores(pb::WatchStoresRequest::default())
        .await?
        .into_inner();
    until_listed(&mut watch).await?;
    admin
        .revoke_token(pb::RevokeTokenRequest {
            id: token_id(&member)?,
        })
        .await?;
    let mut created = create_request("after-revoke");
    created.tenant = "tenants/watcher".into();
    server.stores().await?.create_store(created).await?;
    let status = ends_with(&mut watch, Duration::from_secs(3)).await?;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Revoked behind the server's back (the command line writes the
    // database): the next heartbeat (1 s in tests) notices.
    let cli_token = admin
        .create_token(pb::CreateTokenRequest {
            tenant: "tenants/watcher".into(),
            role: pb::Role::Member.into(),
            description: "cli-revoked".into(),
            ttl: None,
        })
        .await?
        .into_inner()
        .secret;
    let mut watch = server
        .stores_as(&cli_token)
        .await?
        .watch_stores(pb::WatchStoresRequest::default())
        .await?
        .into_inner();
    until_listed(&mut watch).await?;
    let out = tokio::process::Command::new(storeplane_e2e::binary()?)
        .args(["token", "revoke", &token_id(&cli_token)?])
        .args(["--database-url", &server.database_url])
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = ends_with(&mut watch, Duration::from_secs(3)).await?;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Expiry: a 2 s token's watch ends at 2 s, not a heartbeat later.
    let issued = admin
        .create_token(pb::CreateTokenRequest {
            tenant: "tenants/watcher".into(),
            role: pb::Role::Member.into(),
            description: "expiring".into(),
            ttl: Some(prost_types::Duration {
                seconds: 2,
                nanos: 0,
            }),
        })
        .await?
        .into_inner();
    let started = tokio::time::Instant::now();
    let mut watch = server
        .stores_as(&issued.secret)
        .await?
        .watch_stores(pb::WatchStoresRequest::default())
        .await?
        .into_inner();
    until_listed(&mut watch).await?;
    let status = ends_with(&mut watch, Duration::from_secs(4)).await?;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let lived = started.elapsed();
    ensure!(
        lived >= Duration::from_millis(1900),
        "ended after {lived:?}, before it expired"
    );
    Ok(())
}

/// Review finding 6: the per-address limit comes before authentication, so
/// a flood of bogus tokens is refused after the burst without a token
/// lookup; reads have their own bucket; refusals are counted in metrics and
/// nothing of it reaches the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_tokens_are_rate_limited_before_authentication_and_not_audited() -> Result<()> {
    let server = start(
        Backend::Sqlite,
        &[
            "--rate-limit-per-address",
            "1",
            "--rate-limit-burst-per-address",
            "5",
            "--read-rate-limit-per-address",
            "1",
            "--read-rate-limit-burst-per-address",
            "10",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .await?;
    let mut bogus = server.stores_as("spt_00_00").await?;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..60 {
        let status = bogus
            .create_store(create_request(&format!("flood-{i}")))
            .await
            .expect_err("a bogus token was accepted");
        *codes
            .entry(format!("write {:?}", status.code()))
            .or_default() += 1;
        let status = bogus
            .list_stores(pb::ListStoresRequest::default())
            .await
            .expect_err("a bogus token was accepted");
        *codes
            .entry(format!("read {:?}", status.code()))
            .or_default() += 1;
    }
    let count = |key: &str| codes.get(key).copied().unwrap_or_default();
    ensure!(
        count("write ResourceExhausted") >= 50 && count("read ResourceExhausted") >= 45,
        "{codes:?}"
    );
    ensure!(count("write Unauthenticated") <= 8, "{codes:?}");

    let pool = sqlx::SqlitePool::connect(&server.database_url).await?;
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    assert_eq!(audited, 0, "refused calls were audited");

    let metrics = server.metrics().await?;
    let refused = metrics
        .lines()
        .find(|l| {
            l.starts_with("storeplane_refused_calls_total{")
                && l.contains("limiter=\"address\"")
                && l.contains("StoreService/CreateStore")
        })
        .context("no refusal counter for CreateStore")?;
    let value: f64 = refused
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .context("counter value")?;
    ensure!(value >= 50.0, "{refused}");
    ensure!(
        metrics.contains("storeplane_unauthenticated_calls_total{"),
        "no unauthenticated counter"
    );
    Ok(())
}

/// Review finding 6: a 3 MiB configuration is refused at the edge with a
/// field violation, and what the audit log keeps of invalid requests is
/// small: their configuration is not recorded and every entry is capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_configs_are_refused_and_audit_entries_stay_small() -> Result<()> {
    let server = start(Backend::Sqlite, &no_limits()).await?;
    let member = server.tenant_with_token("bulky", None).await?;
    let mut stores = server.stores_as(&member).await?;
    let huge = "x".repeat(3 << 20);
    for _ in 0..3 {
        let mut request = create_request("bulky-shop");
        request.config = Some(config(&[("admin_email", "a@b.example"), ("x", &huge)]));
        let status = stores
            .create_store(request)
            .await
            .expect_err("a 3 MiB config was accepted");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(storeplane_e2e::violated_fields(&status), ["config"]);
    }
    // Under the edge cap but invalid: audited without its configuration.
    let mut request = create_request(&"n".repeat(5000));
    request.config = Some(config(&[("x", &"y".repeat(60_000))]));
    stores
        .create_store(request)
        .await
        .expect_err("an invalid request was accepted");

    let pool = sqlx::SqlitePool::connect(&server.database_url).await?;
    let (rows, largest): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), max(length(parameters)) FROM audit_log")
            .fetch_one(&pool)
            .await?;
    let invalid: Vec<String> =
        sqlx::query_scalar("SELECT parameters FROM audit_log WHERE outcome = 'INVALID_ARGUMENT'")
            .fetch_all(&pool)
            .await?;
    pool.close().await;
    ensure!(
        largest.unwrap_or_default() <= 4096,
        "an audit entry holds {largest:?} bytes of parameters"
    );
    ensure!(
        invalid
            .iter()
            .all(|p| !p.contains("yyyy") && !p.contains("xxxx")),
        "an invalid request's config was audited: {invalid:?}"
    );
    ensure!(rows <= 8, "{rows} audit rows");
    Ok(())
}

/// Review finding 6: open watches per tenant are capped; a closed watch
/// frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_per_tenant_are_capped() -> Result<()> {
    let server = start(Backend::Sqlite, &["--max-watches-per-tenant", "2"]).await?;
    let member = server.tenant_with_token("watchful", None).await?;
    let open = || async {
        server
            .stores_as(&member)
            .await?
            .watch_stores(pb::WatchStoresRequest::default())
            .await
            .map(tonic::Response::into_inner)
            .map_err(anyhow::Error::from)
    };
    let first = open().await?;
    let _second = open().await?;
    let refused = open().await.expect_err("a third watch was opened");
    let status = refused
        .downcast_ref::<tonic::Status>()
        .context("not a status")?;
    assert_eq!(status.code(), Code::ResourceExhausted);
    ensure!(
        status.get_error_details().quota_failure().is_some(),
        "no QuotaFailure detail"
    );
    // Another tenant is not affected.
    server.watch().await?;
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(watch) = open().await {
            reopened = Some(watch);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(reopened.is_some(), "a closed watch did not free its place");
    Ok(())
}

/// Review finding 6: audit entries older than the retention (90 days by
/// default) are deleted at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_past_their_retention_are_pruned() -> Result<()> {
    let db = fresh_database(Backend::Sqlite).await?;
    let out = tokio::process::Command::new(storeplane_e2e::binary()?)
        .args(["migrate", "--database-url", &db])
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = sqlx::SqlitePool::connect(&db).await?;
    for (age_days, method) in [(120, "old"), (91, "older-than-90d"), (10, "recent")] {
        let at = (unix_now() - age_days * 86_400).to_string();
        sqlx::query(
            "INSERT INTO audit_log (created_at, tenant_id, token_id, client_address, method, \
             resource, parameters, outcome, message) \
             VALUES (datetime(?1, 'unixepoch'), '', '', '', ?2, '', '{}', 'OK', '')",
        )
        .bind(at)
        .bind(method)
        .execute(&pool)
        .await?;
    }
    let _server = Server::start_on(&db, &[]).await?;
    let mut left = Vec::new();
    for _ in 0..50 {
        left = sqlx::query_scalar::<_, String>("SELECT method FROM audit_log ORDER BY id")
            .fetch_all(&pool)
            .await?;
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
    assert_eq!(left, ["recent"]);
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Review finding 9: the first administrator token goes to a file only its
/// owner can read; stdout and the log show its path, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_token_is_written_to_a_private_file_not_stdout() -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let server = start(Backend::Sqlite, &[]).await?;
    let file = server
        .admin_token_file
        .clone()
        .context("no `admin token written to` line")?;
    let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    ensure!(server.admin_token.starts_with("spt_"));
    server
        .stores()
        .await?
        .list_stores(pb::ListStoresRequest::default())
        .await?;
    let secret = server
        .admin_token
        .rsplit('_')
        .next()
        .context("secret part")?
        .to_owned();
    ensure!(!server.stdout().contains(&secret), "the token is on stdout");
    ensure!(!server.stdout().contains("spt_"), "a token is on stdout");
    ensure!(!server.log().contains(&secret), "the token is in the log");
    Ok(())
}

/// Review finding 10: a name another tenant holds is refused exactly like
/// one's own taken name (ALREADY_EXISTS, same message and details), naming
/// no store, id or tenant; platform-wide limits are reported without the
/// platform's numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_names_and_platform_limits_reveal_nothing_about_other_tenants() -> Result<()> {
    let server = start(Backend::Sqlite, &["--max-stores", "2"]).await?;
    let a = server.tenant_with_token("holder", None).await?;
    let b = server.tenant_with_token("seeker", None).await?;
    let held = server
        .stores_as(&a)
        .await?
        .create_store(create_request("a-shop"))
        .await?
        .into_inner();
    server
        .stores_as(&b)
        .await?
        .create_store(create_request("b-shop"))
        .await?;
    let foreign = server
        .stores_as(&b)
        .await?
        .create_store(create_request("a-shop"))
        .await
        .expect_err("another tenant's name was accepted");
    let own = server
        .stores_as(&a)
        .await?
        .create_store(create_request("a-shop"))
        .await
        .expect_err("a taken name was accepted");
    assert_eq!(foreign.code(), Code::AlreadyExists);
    assert_eq!(foreign.code(), own.code());
    assert_eq!(foreign.message(), own.message());
    assert_eq!(foreign.details(), own.details());
    for leak in [held.id.as_str(), "holder", "tenants/"] {
        ensure!(
            !foreign.message().contains(leak)
                && !String::from_utf8_lossy(foreign.details()).contains(leak),
            "the refusal names {leak:?}: {foreign:?}"
        );
    }

    // Two stores exist on the platform (the cap): the member is told the
    // platform is full, not how full or how large.
    let status = server
        .stores_as(&b)
        .await?
        .create_store(create_request("c-shop"))
        .await
        .expect_err("platform cap");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let described = format!(
        "{} {:?}",
        status.message(),
        status.get_error_details().quota_failure()
    );
    ensure!(
        !described.contains('2'),
        "platform numbers revealed: {described}"
    );
    Ok(())
}

/// Review finding 10: `GetServerInfo` without credentials says that a
/// plugin bundle was rejected but not where bundles live on the server;
/// an administrator sees the full notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_info_shows_bundle_paths_to_administrators_only() -> Result<()> {
    let plugins = storeplane_e2e::repo_root()
        .join("target/e2e")
        .join(format!("plugins-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(plugins.join("broken"))?;
    std::fs::write(plugins.join("broken/plugin.toml"), "this is [not toml")?;
    let dir = plugins.display().to_string();
    let server = start(
        Backend::Sqlite,
        &[
            "--cluster",
            "simulated",
            "--sim-delay",
            "0s",
            "--plugins-dir",
            &dir,
        ],
    )
    .await?;
    let info = |token: String| {
        let server = &server;
        async move {
            let mut client = storeplane_proto::v1::info_service_client::InfoServiceClient::new(
                server.authed(&token).await?,
            );
            anyhow::Ok(
                client
                    .get_server_info(pb::GetServerInfoRequest {})
                    .await?
                    .into_inner()
                    .notices,
            )
        }
    };
    let anonymous = info(String::new()).await?;
    ensure!(
        anonymous.iter().all(|n| !n.contains(&dir)),
        "bundle path shown without credentials: {anonymous:?}"
    );
    ensure!(
        anonymous.iter().any(|n| n.contains("rejected")),
        "{anonymous:?}"
    );
    let member = server.tenant_with_token("curious", None).await?;
    let as_member = info(member).await?;
    ensure!(as_member.iter().all(|n| !n.contains(&dir)), "{as_member:?}");
    let as_admin = info(server.admin_token.clone()).await?;
    ensure!(as_admin.iter().any(|n| n.contains(&dir)), "{as_admin:?}");
    Ok(())
}
