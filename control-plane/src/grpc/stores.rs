//! `storeplane.v1.StoreService`.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures::Stream;
use prost::Message as _;
use storeplane_proto::v1::{
    self as pb, store_service_server::StoreService as StoreServiceRpc,
    watch_stores_response::EventType,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{
    convert,
    gate::{Gate, redact},
    to_status,
};
use crate::domain::{
    Error, FieldViolation, QuotaViolation, Store, StoreFilter, StoreRef, TenantId,
    backup::Backup,
    ports::BackupFilter,
    service::{CreateRequest, ScheduleRequest, StoreService},
    tenancy::Caller,
    validate,
};
use crate::watch::{self, ChangeHub, WatchAuth, WatchEvent, WatchOptions};

/// Largest store configuration accepted, as encoded protobuf: engines'
/// configurations are a few hundred bytes; anything near this is abuse and
/// is refused before it is converted, validated or audited.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// What replaces the configuration of a refused request in the audit log:
/// only validated parameters are stored.
const NOT_RECORDED: &str = "[not recorded: the request was invalid]";

const CREATE: &str = "storeplane.v1.StoreService/CreateStore";
const DELETE: &str = "storeplane.v1.StoreService/DeleteStore";
const RETRY: &str = "storeplane.v1.StoreService/RetryStore";
const UPGRADE: &str = "storeplane.v1.StoreService/UpgradeStore";
const ROLLBACK: &str = "storeplane.v1.StoreService/RollbackStore";
const REVEAL: &str = "storeplane.v1.StoreService/RevealStoreCredentials";
const SUSPEND: &str = "storeplane.v1.StoreService/SuspendStore";
const RESUME: &str = "storeplane.v1.StoreService/ResumeStore";
const DOMAINS: &str = "storeplane.v1.StoreService/SetStoreCustomDomains";
const CREATE_BACKUP: &str = "storeplane.v1.StoreService/CreateBackup";
const DELETE_BACKUP: &str = "storeplane.v1.StoreService/DeleteBackup";
const RESTORE: &str = "storeplane.v1.StoreService/RestoreStore";
const SCHEDULE: &str = "storeplane.v1.StoreService/SetStoreBackupSchedule";

/// Open watches per tenant, against `--max-watches-per-tenant`.
#[derive(Default)]
struct WatchCounts {
    limit: Option<usize>,
    open: Mutex<HashMap<TenantId, usize>>,
}

/// One open watch, counted until dropped (with the stream tonic drops
/// when the client goes away or the watch ends).
struct WatchSlot {
    counts: Arc<WatchCounts>,
    tenant: TenantId,
}

impl WatchCounts {
    fn take(self: &Arc<Self>, tenant: &TenantId) -> Result<WatchSlot, Error> {
        let mut open = self
            .open
            .lock()
            .map_err(|_| Error::internal("count watches", "lock poisoned"))?;
        let n = open.entry(tenant.clone()).or_default();
        if let Some(limit) = self.limit
            && *n >= limit
        {
            return Err(Error::QuotaExceeded(vec![QuotaViolation {
                subject: tenant.resource_name(),
                description: format!(
                    "max_watches of {} is {limit}: close a watch before opening another",
                    tenant.resource_name()
                ),
            }]));
        }
        *n += 1;
        Ok(WatchSlot {
            counts: Arc::clone(self),
            tenant: tenant.clone(),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counts.open.lock()
            && let Some(n) = open.get_mut(&self.tenant)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

/// The store API.
#[derive(Clone)]
pub struct StoreApi {
    service: StoreService,
    gate: Arc<Gate>,
    hub: ChangeHub,
    watch: WatchOptions,
    shutdown: CancellationToken,
    watches: Arc<WatchCounts>,
}

impl StoreApi {
    /// Serves `service` behind `gate`; watches end when `shutdown` is cancelled.
    pub fn new(
        service: StoreService,
        gate: Arc<Gate>,
        hub: ChangeHub,
        watch: WatchOptions,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            service,
            gate,
            hub,
            watch,
            shutdown,
            watches: Arc::new(WatchCounts::default()),
        }
    }

    /// Caps open watches per tenant at `limit` (`None`: unlimited).
    pub fn with_max_watches_per_tenant(mut self, limit: Option<usize>) -> Self {
        self.watches = Arc::new(WatchCounts {
            limit,
            open: Mutex::default(),
        });
        self
    }

    /// Audits a mutating call's outcome and converts it to a response.
    async fn audited(
        &self,
        caller: &Caller,
        address: Option<std::net::SocketAddr>,
        method: &str,
        target: &str,
        parameters: serde_json::Value,
        result: Result<Store, Error>,
    ) -> Result<Response<pb::Store>, Status> {
        let result =
            result.map(|store| (format!("stores/{}", store.id), convert::store_to_pb(&store)));
        self.audited_as(caller, address, method, target, parameters, result)
            .await
    }

    /// [`StoreApi::audited`] for a call answering with a backup.
    async fn audited_backup(
        &self,
        caller: &Caller,
        address: Option<std::net::SocketAddr>,
        method: &str,
        target: &str,
        parameters: serde_json::Value,
        result: Result<Backup, Error>,
    ) -> Result<Response<pb::Backup>, Status> {
        let result = result.map(|backup| (backup.resource_name(), convert::backup_to_pb(&backup)));
        self.audited_as(caller, address, method, target, parameters, result)
            .await
    }

    /// Records the call in the audit log with the resource it acted on
    /// (`target` when it failed) and answers with its message.
    async fn audited_as<M>(
        &self,
        caller: &Caller,
        address: Option<std::net::SocketAddr>,
        method: &str,
        target: &str,
        parameters: serde_json::Value,
        result: Result<(String, M), Error>,
    ) -> Result<Response<M>, Status> {
        let result = result.map_err(to_status);
        let resource = match &result {
            Ok((resource, _)) => resource.clone(),
            Err(_) => target.to_owned(),
        };
        self.gate
            .record(
                Some(caller),
                address,
                method,
                resource,
                redact(parameters),
                result.as_ref().map(|_| ()),
            )
            .await;
        result.map(|(_, message)| Response::new(message))
    }
}

/// Refuses a configuration larger than [`MAX_CONFIG_BYTES`] with a field
/// violation, before anything converts or stores it.
fn check_config_size(config: Option<&prost_types::Struct>) -> Result<(), Error> {
    let size = config.map_or(0, |c| c.encoded_len());
    if size > MAX_CONFIG_BYTES {
        return Err(Error::invalid(
            "config",
            format!("is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Whether a call's parameters passed validation, so they may be audited
/// in full (still capped); an invalid request is audited without them.
fn validated<T>(result: &Result<T, Error>) -> bool {
    !matches!(result, Err(Error::InvalidArgument(_)))
}

impl StoreApi {
    /// How a watch of `caller` re-checks its token (see [`WatchAuth`]).
    fn watch_auth(&self, caller: &Caller) -> WatchAuth {
        let Some(token_id) = caller.token_id.clone() else {
            return WatchAuth::none();
        };
        let revocations = Some((token_id, self.gate.revocations()));
        let expires_at = caller.expires_at.map(|at| {
            let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::time::Instant::now() + left
        });
        let gate = Arc::clone(&self.gate);
        let caller = caller.clone();
        WatchAuth {
            expires_at,
            check: Box::new(move || {
                let gate = Arc::clone(&gate);
                let caller = caller.clone();
                Box::pin(async move { gate.still_valid(&caller).await })
            }),
            revocations,
        }
    }
}

fn store_ref(id: &str, name: &str) -> Result<StoreRef, Error> {
    validate::store_ref(id, name).map_err(Error::InvalidArgument)
}

fn target(id: &str, name: &str) -> String {
    if id.is_empty() {
        format!("stores/name={name}")
    } else {
        format!("stores/{id}")
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchStoresResponse, Status>> + Send>>;

#[tonic::async_trait]
impl StoreServiceRpc for StoreApi {
    async fn create_store(
        &self,
        request: Request<pb::CreateStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, CREATE).await?;
        let oversized = check_config_size(request.get_ref().config.as_ref()).err();
        let address = request.remote_addr();
        let req = request.into_inner();
        let name = req.name.clone();
        let (engine, tenant, request_id, custom_domains, from_backup, schedule) = (
            req.engine.clone(),
            req.tenant.clone(),
            req.request_id.clone(),
            req.custom_domains.clone(),
            req.from_backup.clone(),
            req.backup_schedule.clone(),
        );
        let (result, recorded_config) = match oversized {
            // Refused before anything converts or validates it; audited
            // without it.
            Some(err) => (Err(err), serde_json::Value::Null),
            None => {
                let config = convert::struct_to_config(req.config);
                let recorded_config = config
                    .clone()
                    .map(serde_json::Value::Object)
                    .unwrap_or_default();
                let result = match config {
                    Err(v) => Err(Error::InvalidArgument(vec![v])),
                    Ok(config) => {
                        self.service
                            .create(
                                &caller,
                                CreateRequest {
                                    name: req.name,
                                    engine: req.engine,
                                    config,
                                    request_id: req.request_id,
                                    tenant: req.tenant,
                                    custom_domains: req.custom_domains,
                                    from_backup: req.from_backup,
                                    backup_schedule: req.backup_schedule.map(|s| ScheduleRequest {
                                        cron: s.cron,
                                        retention: s.retention,
                                    }),
                                },
                            )
                            .await
                    }
                };
                (result, recorded_config)
            }
        };
        let parameters = serde_json::json!({
            "name": name,
            "engine": engine,
            "tenant": tenant,
            "request_id": request_id,
            "config": if validated(&result) { recorded_config } else { NOT_RECORDED.into() },
            "custom_domains": if validated(&result) { serde_json::json!(custom_domains) } else { NOT_RECORDED.into() },
            "from_backup": from_backup,
            "backup_schedule": schedule.map(|s| serde_json::json!({"cron": s.cron, "retention": s.retention})),
        });
        self.audited(
            &caller,
            address,
            CREATE,
            &target("", &name),
            parameters,
            result,
        )
        .await
    }

    async fn get_store(
        &self,
        request: Request<pb::GetStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let store = async {
            self.service
                .get(&caller.scope(), &store_ref(&req.id, &req.name)?)
                .await
        }
        .await
        .map_err(to_status)?;
        Ok(Response::new(convert::store_to_pb(&store)))
    }

    async fn list_stores(
        &self,
        request: Request<pb::ListStoresRequest>,
    ) -> Result<Response<pb::ListStoresResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let phases = convert::phases_from_pb(&req.phases)
            .map_err(|v: FieldViolation| to_status(Error::InvalidArgument(vec![v])))?;
        let filter = StoreFilter {
            phases,
            engine: (!req.engine.is_empty()).then_some(req.engine),
        };
        let page = self
            .service
            .list(&caller.scope(), &filter, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListStoresResponse {
            stores: page.items.iter().map(convert::store_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn delete_store(
        &self,
        request: Request<pb::DeleteStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, DELETE).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id, "name": req.name, "etag": req.etag});
        let result = async {
            self.service
                .delete(&caller.scope(), &store_ref(&req.id, &req.name)?, &req.etag)
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            DELETE,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn retry_store(
        &self,
        request: Request<pb::RetryStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, RETRY).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id, "name": req.name});
        let result = async {
            self.service
                .retry(&caller.scope(), &store_ref(&req.id, &req.name)?)
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            RETRY,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn upgrade_store(
        &self,
        request: Request<pb::UpgradeStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, UPGRADE).await?;
        let oversized = check_config_size(request.get_ref().config.as_ref()).err();
        let address = request.remote_addr();
        let mut req = request.into_inner();
        if oversized.is_some() {
            // Nothing else looks at it.
            req.config = None;
        }
        let config = req
            .config
            .clone()
            .map(|c| convert::struct_to_config(Some(c)))
            .transpose();
        let recorded_config = config
            .clone()
            .ok()
            .flatten()
            .map(serde_json::Value::Object)
            .unwrap_or_default();
        let result = async {
            if let Some(err) = oversized {
                return Err(err);
            }
            let config = config.map_err(|v| Error::InvalidArgument(vec![v]))?;
            self.service
                .upgrade(
                    &caller.scope(),
                    &store_ref(&req.id, &req.name)?,
                    config,
                    &req.etag,
                )
                .await
        }
        .await;
        let parameters = serde_json::json!({
            "id": req.id, "name": req.name, "etag": req.etag,
            "config": if validated(&result) { recorded_config } else { NOT_RECORDED.into() },
        });
        self.audited(
            &caller,
            address,
            UPGRADE,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn rollback_store(
        &self,
        request: Request<pb::RollbackStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, ROLLBACK).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id, "name": req.name});
        let result = async {
            self.service
                .rollback(&caller.scope(), &store_ref(&req.id, &req.name)?)
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            ROLLBACK,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn suspend_store(
        &self,
        request: Request<pb::SuspendStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, SUSPEND).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id, "name": req.name, "etag": req.etag});
        let result = async {
            self.service
                .suspend(&caller.scope(), &store_ref(&req.id, &req.name)?, &req.etag)
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            SUSPEND,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn resume_store(
        &self,
        request: Request<pb::ResumeStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, RESUME).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id, "name": req.name, "etag": req.etag});
        let result = async {
            self.service
                .resume(&caller.scope(), &store_ref(&req.id, &req.name)?, &req.etag)
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            RESUME,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn set_store_custom_domains(
        &self,
        request: Request<pb::SetStoreCustomDomainsRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, DOMAINS).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let result = async {
            self.service
                .set_custom_domains(
                    &caller.scope(),
                    &store_ref(&req.id, &req.name)?,
                    req.custom_domains.clone(),
                    &req.etag,
                )
                .await
        }
        .await;
        let parameters = serde_json::json!({
            "id": req.id, "name": req.name, "etag": req.etag,
            "custom_domains": if validated(&result) { serde_json::json!(req.custom_domains) } else { NOT_RECORDED.into() },
        });
        self.audited(
            &caller,
            address,
            DOMAINS,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn reveal_store_credentials(
        &self,
        request: Request<pb::RevealStoreCredentialsRequest>,
    ) -> Result<Response<pb::StoreCredentials>, Status> {
        // A read, but of a secret: rate limited and audited like a write.
        let caller = self.gate.mutating(&request, REVEAL).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let result = async {
            let store = store_ref(&req.id, &req.name)?;
            self.service.reveal_credentials(&caller, &store).await
        }
        .await
        .map_err(to_status);
        let resource = match &result {
            Ok(credentials) => format!("stores/{}", credentials.store_id),
            Err(_) => target(&req.id, &req.name),
        };
        self.gate
            .record(
                Some(&caller),
                address,
                REVEAL,
                resource,
                serde_json::json!({"id": req.id, "name": req.name}),
                result.as_ref().map(|_| ()),
            )
            .await;
        let credentials = result?;
        Ok(Response::new(pb::StoreCredentials {
            login_url: credentials.login_url,
            username: credentials.username,
            password: credentials.password,
            secret: credentials.secret,
        }))
    }

    type WatchStoresStream = WatchStream;

    async fn watch_stores(
        &self,
        request: Request<pb::WatchStoresRequest>,
    ) -> Result<Response<Self::WatchStoresStream>, Status> {
        let caller = self.gate.caller(&request).await?;
        let slot = self.watches.take(&caller.tenant).map_err(|err| {
            self.gate.metrics().refused(
                "watches_per_tenant",
                "storeplane.v1.StoreService/WatchStores",
            );
            to_status(err)
        })?;
        let req = request.into_inner();
        let resume = if req.resume_token.is_empty() {
            None
        } else {
            match req.resume_token.parse::<i64>() {
                Ok(seq) if seq >= 0 => Some(seq),
                _ => {
                    return Err(to_status(Error::invalid(
                        "resume_token",
                        "is not a token this API issued; watch without one to start over",
                    )));
                }
            }
        };
        let events = watch::watch(
            Arc::clone(self.service.repository()),
            &self.hub,
            caller.scope(),
            resume,
            self.watch,
            self.shutdown.clone(),
            self.watch_auth(&caller),
        );
        let stream = ReceiverStream::new(events).map(move |event| {
            // The slot lives as long as the stream tonic holds.
            let _counted = &slot;
            match event {
                Ok(event) => Ok(watch_response(event)),
                Err(err) => Err(to_status(err)),
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_store_events(
        &self,
        request: Request<pb::ListStoreEventsRequest>,
    ) -> Result<Response<pb::ListStoreEventsResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let page = async {
            self.service
                .events(
                    &caller.scope(),
                    &store_ref(&req.id, &req.name)?,
                    req.page_size,
                    &req.page_token,
                )
                .await
        }
        .await
        .map_err(to_status)?;
        Ok(Response::new(pb::ListStoreEventsResponse {
            events: page.items.iter().map(convert::event_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn create_backup(
        &self,
        request: Request<pb::CreateBackupRequest>,
    ) -> Result<Response<pb::Backup>, Status> {
        let caller = self.gate.mutating(&request, CREATE_BACKUP).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters =
            serde_json::json!({"store_id": req.store_id, "store_name": req.store_name});
        let result = async {
            self.service
                .create_backup(&caller.scope(), &store_ref(&req.store_id, &req.store_name)?)
                .await
        }
        .await;
        self.audited_backup(
            &caller,
            address,
            CREATE_BACKUP,
            &target(&req.store_id, &req.store_name),
            parameters,
            result,
        )
        .await
    }

    async fn get_backup(
        &self,
        request: Request<pb::GetBackupRequest>,
    ) -> Result<Response<pb::Backup>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let backup = self
            .service
            .backup(&caller.scope(), &req.id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::backup_to_pb(&backup)))
    }

    async fn list_backups(
        &self,
        request: Request<pb::ListBackupsRequest>,
    ) -> Result<Response<pb::ListBackupsResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let filter = async {
            let mut filter = BackupFilter::default();
            match (req.store_id.is_empty(), req.store_name.is_empty()) {
                (true, true) => {}
                (false, false) => {
                    return Err(Error::invalid(
                        "store_name",
                        "set at most one of store_id and store_name",
                    ));
                }
                (false, true) => {
                    filter.store_id = Some(uuid::Uuid::parse_str(&req.store_id).map_err(|_| {
                        Error::invalid("store_id", format!("{:?} is not a store id", req.store_id))
                    })?);
                }
                (true, false) => filter.store_name = Some(req.store_name.clone()),
            }
            Ok(filter)
        }
        .await
        .map_err(to_status)?;
        let page = self
            .service
            .backups(&caller.scope(), &filter, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListBackupsResponse {
            backups: page.items.iter().map(convert::backup_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn delete_backup(
        &self,
        request: Request<pb::DeleteBackupRequest>,
    ) -> Result<Response<pb::Backup>, Status> {
        let caller = self.gate.mutating(&request, DELETE_BACKUP).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({"id": req.id});
        let result = self.service.delete_backup(&caller.scope(), &req.id).await;
        self.audited_backup(
            &caller,
            address,
            DELETE_BACKUP,
            &format!("backups/{}", req.id),
            parameters,
            result,
        )
        .await
    }

    async fn restore_store(
        &self,
        request: Request<pb::RestoreStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, RESTORE).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({
            "id": req.id, "name": req.name, "backup": req.backup, "etag": req.etag,
        });
        let result = async {
            self.service
                .restore(
                    &caller.scope(),
                    &store_ref(&req.id, &req.name)?,
                    &req.backup,
                    &req.etag,
                )
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            RESTORE,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }

    async fn set_store_backup_schedule(
        &self,
        request: Request<pb::SetStoreBackupScheduleRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let caller = self.gate.mutating(&request, SCHEDULE).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let schedule = req
            .schedule
            .map(|s| ScheduleRequest {
                cron: s.cron,
                retention: s.retention,
            })
            .unwrap_or_default();
        let parameters = serde_json::json!({
            "id": req.id, "name": req.name, "etag": req.etag,
            "schedule": {"cron": schedule.cron, "retention": schedule.retention},
        });
        let result = async {
            self.service
                .set_backup_schedule(
                    &caller.scope(),
                    &store_ref(&req.id, &req.name)?,
                    &schedule,
                    &req.etag,
                )
                .await
        }
        .await;
        self.audited(
            &caller,
            address,
            SCHEDULE,
            &target(&req.id, &req.name),
            parameters,
            result,
        )
        .await
    }
}

/// A watch event as sent.
///
/// Resume tokens (and heartbeats) carry the position in the platform-wide
/// change log, so a member comparing two tokens learns how many store
/// changes the whole platform made in between: a rate of activity, never a
/// name, tenant, count of stores or content. Decided to keep it: a
/// heartbeat that stood still for members would send quiet tenants back to
/// a full relist (`RESYNC_REQUIRED`) whenever the log moved past them, and
/// hiding the rate for real needs a per-tenant sequence or tokens
/// encrypted with a key all replicas share (a schema change, left for
/// later).
fn watch_response(event: WatchEvent) -> pb::WatchStoresResponse {
    let token = |seq: i64| seq.to_string();
    let (event_type, store, resume_token) = match event {
        WatchEvent::Added(store, seq) => (
            EventType::Added,
            Some(store),
            seq.map(token).unwrap_or_default(),
        ),
        WatchEvent::Modified(store, seq) => (EventType::Modified, Some(store), token(seq)),
        WatchEvent::Deleted(store, seq) => (EventType::Deleted, Some(store), token(seq)),
        WatchEvent::InitialListComplete(seq) => (EventType::InitialListComplete, None, token(seq)),
        WatchEvent::Heartbeat(seq) => (EventType::Heartbeat, None, token(seq)),
        WatchEvent::ResyncRequired => (EventType::ResyncRequired, None, String::new()),
    };
    pb::WatchStoresResponse {
        r#type: event_type.into(),
        store: store.as_ref().map(convert::store_to_pb),
        resume_token,
    }
}
