//! The only place that builds gRPC-web clients: every call the dashboard
//! makes goes through [`Api`], which adds the bearer token and turns
//! statuses into [`ApiError`]s.

mod convert;
mod error;

use std::{rc::Rc, time::Duration};

use storeplane_proto::v1::{
    self as pb, audit_service_client::AuditServiceClient,
    engine_service_client::EngineServiceClient, info_service_client::InfoServiceClient,
    store_service_client::StoreServiceClient,
};
use tonic::{Request, Streaming, metadata::MetadataValue};
use tonic_web_wasm_client::{Client, options::FetchOptions};

pub use convert::{json_to_struct, struct_to_json, value_to_json};
pub use error::{ApiError, FieldViolation};

/// How long a unary call may take before the dashboard gives up on it.
/// Streams have no deadline: they are meant to stay open.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Stores per page when the dashboard lists a store's timeline.
const EVENTS_PAGE_SIZE: i32 = 200;

/// Backups the store page lists (newest first); older ones are counted
/// as "more" rather than fetched.
const BACKUPS_PAGE_SIZE: i32 = 100;

/// Result of an API call.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// A handle on the API at one address, as one caller. Cheap to clone;
/// compares equal when address and token are equal, so hooks can re-run
/// when either changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    base_url: Rc<str>,
    token: Option<Rc<str>>,
}

impl Api {
    /// The API at `base_url`, with `token` sent as `authorization: Bearer`.
    pub fn new(base_url: &str, token: Option<&str>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').into(),
            token: token.map(Into::into),
        }
    }

    /// The token this handle sends.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn unary(&self) -> Client {
        Client::new_with_options(
            self.base_url.to_string(),
            FetchOptions::new().timeout(CALL_TIMEOUT),
        )
    }

    fn request<T>(&self, message: T) -> Result<Request<T>> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            let value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
                ApiError::Unauthenticated(
                    "the token contains characters a request header cannot carry".into(),
                )
            })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }

    fn stores(&self) -> StoreServiceClient<Client> {
        StoreServiceClient::new(self.unary())
    }

    /// What the server is, and whether it wants a token (needs none).
    pub async fn server_info(&self) -> Result<pb::ServerInfo> {
        let mut client = InfoServiceClient::new(self.unary());
        let request = Request::new(pb::GetServerInfoRequest {});
        Ok(client.get_server_info(request).await?.into_inner())
    }

    /// The engines a store can be created with.
    pub async fn list_engines(&self) -> Result<Vec<pb::Engine>> {
        let mut client = EngineServiceClient::new(self.unary());
        let response = client
            .list_engines(self.request(pb::ListEnginesRequest {})?)
            .await?;
        Ok(response.into_inner().engines)
    }

    /// Creates a store; `request_id` makes retries of one submission safe.
    pub async fn create_store(&self, request: pb::CreateStoreRequest) -> Result<pb::Store> {
        Ok(self
            .stores()
            .create_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// One store, by name.
    pub async fn get_store(&self, name: &str) -> Result<pb::Store> {
        let request = pb::GetStoreRequest {
            name: name.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .get_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Starts deleting a store; with `etag`, only if it has not changed
    /// since the person looked at it.
    pub async fn delete_store(&self, name: &str, etag: &str) -> Result<pb::Store> {
        let request = pb::DeleteStoreRequest {
            name: name.to_owned(),
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .delete_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Provisions a failed store again.
    pub async fn retry_store(&self, name: &str) -> Result<pb::Store> {
        let request = pb::RetryStoreRequest {
            name: name.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .retry_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Pauses a store (its engine must list `suspend`); `etag` as for
    /// [`Api::delete_store`]. The watch then shows the engine pausing it.
    pub async fn suspend_store(&self, name: &str, etag: &str) -> Result<pb::Store> {
        let request = pb::SuspendStoreRequest {
            name: name.to_owned(),
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .suspend_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Brings a suspended store back.
    pub async fn resume_store(&self, name: &str, etag: &str) -> Result<pb::Store> {
        let request = pb::ResumeStoreRequest {
            name: name.to_owned(),
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .resume_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Replaces a store's custom domains with `domains` (the full list).
    pub async fn set_store_custom_domains(
        &self,
        name: &str,
        domains: Vec<String>,
        etag: &str,
    ) -> Result<pb::Store> {
        let request = pb::SetStoreCustomDomainsRequest {
            name: name.to_owned(),
            custom_domains: domains,
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .set_store_custom_domains(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Starts a backup of the store with this id; the watch then shows
    /// the store's `operation` until it ends.
    pub async fn create_backup(&self, store_id: &str) -> Result<pb::Backup> {
        let request = pb::CreateBackupRequest {
            store_id: store_id.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .create_backup(self.request(request)?)
            .await?
            .into_inner())
    }

    /// The newest backups of the store with this id (newest first), and
    /// whether there are older ones.
    pub async fn list_backups(&self, store_id: &str) -> Result<(Vec<pb::Backup>, bool)> {
        let request = pb::ListBackupsRequest {
            store_id: store_id.to_owned(),
            page_size: BACKUPS_PAGE_SIZE,
            ..Default::default()
        };
        let page = self
            .stores()
            .list_backups(self.request(request)?)
            .await?
            .into_inner();
        Ok((page.backups, !page.next_page_token.is_empty()))
    }

    /// Deletes a finished backup and its archive.
    pub async fn delete_backup(&self, id: &str) -> Result<pb::Backup> {
        let request = pb::DeleteBackupRequest { id: id.to_owned() };
        Ok(self
            .stores()
            .delete_backup(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Replaces the store's data with `backup`'s; `etag` as for
    /// [`Api::delete_store`].
    pub async fn restore_store(&self, name: &str, backup: &str, etag: &str) -> Result<pb::Store> {
        let request = pb::RestoreStoreRequest {
            name: name.to_owned(),
            backup: backup.to_owned(),
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .restore_store(self.request(request)?)
            .await?
            .into_inner())
    }

    /// Sets the store's scheduled backups (`None` removes them).
    pub async fn set_store_backup_schedule(
        &self,
        name: &str,
        schedule: Option<pb::BackupSchedule>,
        etag: &str,
    ) -> Result<pb::Store> {
        let request = pb::SetStoreBackupScheduleRequest {
            name: name.to_owned(),
            schedule,
            etag: etag.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .set_store_backup_schedule(self.request(request)?)
            .await?
            .into_inner())
    }

    /// The store's admin login (audited on the server). Kept only in the
    /// component that shows it, never in the app state or storage.
    pub async fn reveal_store_credentials(&self, name: &str) -> Result<pb::StoreCredentials> {
        let request = pb::RevealStoreCredentialsRequest {
            name: name.to_owned(),
            ..Default::default()
        };
        Ok(self
            .stores()
            .reveal_store_credentials(self.request(request)?)
            .await?
            .into_inner())
    }

    /// A store's whole timeline, oldest first (every page).
    pub async fn list_store_events(&self, name: &str) -> Result<Vec<pb::StoreEvent>> {
        let mut events = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListStoreEventsRequest {
                name: name.to_owned(),
                page_size: EVENTS_PAGE_SIZE,
                page_token,
                ..Default::default()
            };
            let page = self
                .stores()
                .list_store_events(self.request(request)?)
                .await?
                .into_inner();
            events.extend(page.events);
            if page.next_page_token.is_empty() {
                return Ok(events);
            }
            page_token = page.next_page_token;
        }
    }

    /// Opens `WatchStores`, resuming after `resume_token` when not empty.
    /// Returns once the server has answered, so the caller can say "live".
    pub async fn watch_stores(
        &self,
        resume_token: &str,
    ) -> Result<Streaming<pb::WatchStoresResponse>> {
        // No fetch timeout: it would cut the stream. Liveness comes from
        // the server's heartbeats instead (see `hooks::use_store_watch`).
        let mut client = StoreServiceClient::new(Client::new(self.base_url.to_string()));
        let request = pb::WatchStoresRequest {
            resume_token: resume_token.to_owned(),
        };
        Ok(client
            .watch_stores(self.request(request)?)
            .await?
            .into_inner())
    }

    /// One page of the audit log, newest first.
    pub async fn list_audit_entries(
        &self,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListAuditEntriesResponse> {
        let mut client = AuditServiceClient::new(self.unary());
        let request = pb::ListAuditEntriesRequest {
            page_size,
            page_token: page_token.to_owned(),
            ..Default::default()
        };
        Ok(client
            .list_audit_entries(self.request(request)?)
            .await?
            .into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_bearer_token_only_when_there_is_one() {
        let api = Api::new("http://x/", Some("spt_abc"));
        let request = api.request(()).ok();
        let auth = request
            .as_ref()
            .and_then(|r| r.metadata().get("authorization"))
            .and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some("Bearer spt_abc"));
        let anonymous = Api::new("http://x", None).request(()).ok();
        assert!(anonymous.is_some_and(|r| r.metadata().get("authorization").is_none()));
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_an_authentication_error() {
        let api = Api::new("http://x", Some("bad\ntoken"));
        assert!(matches!(api.request(()), Err(ApiError::Unauthenticated(_))));
    }

    #[test]
    fn handles_compare_by_address_and_token() {
        assert_eq!(Api::new("http://x/", None), Api::new("http://x", None));
        assert_ne!(
            Api::new("http://x", Some("a")),
            Api::new("http://x", Some("b"))
        );
    }
}
