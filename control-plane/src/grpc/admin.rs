//! `storeplane.v1.AdminService`, `AuditService` and `InfoService`.

use std::sync::Arc;

use storeplane_proto::v1::{
    self as pb, admin_service_server::AdminService as AdminServiceRpc,
    audit_service_server::AuditService as AuditServiceRpc,
    info_service_server::InfoService as InfoServiceRpc,
};
use tonic::{Request, Response, Status};

use super::{
    convert,
    gate::{AuthMode, Gate},
    to_status,
};
use crate::{
    domain::{
        Error,
        admin::{Admin, require_admin},
        page,
        ports::AuditLog,
        tenancy::{Caller, Scope},
        validate,
    },
    reconcile::Orphans,
};

/// Tenant and token administration over gRPC.
#[derive(Clone)]
pub struct AdminApi {
    admin: Admin,
    gate: Arc<Gate>,
    orphans: Option<(Arc<Orphans>, String)>,
}

impl AdminApi {
    /// Serves `admin` behind `gate`.
    pub fn new(admin: Admin, gate: Arc<Gate>) -> Self {
        Self {
            admin,
            gate,
            orphans: None,
        }
    }

    /// Reports the reconciler's orphaned namespaces (none without a
    /// cluster) for `installation`.
    #[must_use]
    pub fn with_orphans(
        mut self,
        orphans: Option<Arc<Orphans>>,
        installation: &uuid::Uuid,
    ) -> Self {
        self.orphans = orphans.map(|o| (o, installation.to_string()));
        self
    }

    async fn audited<T>(
        &self,
        caller: &Caller,
        address: Option<std::net::SocketAddr>,
        method: &str,
        resource: String,
        parameters: serde_json::Value,
        result: Result<T, Error>,
    ) -> Result<T, Status> {
        let result = result.map_err(to_status);
        self.gate
            .record(
                Some(caller),
                address,
                method,
                resource,
                parameters,
                result.as_ref().map(|_| ()),
            )
            .await;
        result
    }
}

const CREATE_TENANT: &str = "storeplane.v1.AdminService/CreateTenant";
const UPDATE_QUOTA: &str = "storeplane.v1.AdminService/UpdateTenantQuota";
const CREATE_TOKEN: &str = "storeplane.v1.AdminService/CreateToken";
const REVOKE_TOKEN: &str = "storeplane.v1.AdminService/RevokeToken";

#[tonic::async_trait]
impl AdminServiceRpc for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let caller = self.gate.mutating(&request, CREATE_TENANT).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters = serde_json::json!({
            "id": req.id, "display_name": req.display_name,
            "quota": format!("{:?}", req.quota),
        });
        let result = async {
            let quota =
                convert::quota_from_pb(req.quota).map_err(|v| Error::InvalidArgument(vec![v]))?;
            self.admin
                .create_tenant(&caller, &req.id, &req.display_name, quota)
                .await
        }
        .await;
        let tenant = self
            .audited(
                &caller,
                address,
                CREATE_TENANT,
                format!("tenants/{}", req.id),
                parameters,
                result,
            )
            .await?;
        Ok(Response::new(convert::tenant_to_pb(&tenant)))
    }

    async fn list_orphaned_namespaces(
        &self,
        request: Request<pb::ListOrphanedNamespacesRequest>,
    ) -> Result<Response<pb::ListOrphanedNamespacesResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        require_admin(&caller).map_err(to_status)?;
        let Some((orphans, installation)) = &self.orphans else {
            return Ok(Response::new(pb::ListOrphanedNamespacesResponse::default()));
        };
        Ok(Response::new(pb::ListOrphanedNamespacesResponse {
            installation_id: installation.clone(),
            namespaces: orphans
                .list()
                .into_iter()
                .map(|o| pb::OrphanedNamespace {
                    namespace: o.namespace,
                    store_id: o.store_id,
                    installation_id: o.installation.unwrap_or_default(),
                    this_installation: o.this_installation,
                    first_seen: Some(convert::timestamp(o.first_seen)),
                    delete_after: o.delete_after.map(convert::timestamp),
                })
                .collect(),
        }))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let tenants = self.admin.tenants(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.iter().map(convert::tenant_to_pb).collect(),
        }))
    }

    async fn update_tenant_quota(
        &self,
        request: Request<pb::UpdateTenantQuotaRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let caller = self.gate.mutating(&request, UPDATE_QUOTA).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let parameters =
            serde_json::json!({"tenant": req.tenant, "quota": format!("{:?}", req.quota)});
        let result = async {
            let quota =
                convert::quota_from_pb(req.quota).map_err(|v| Error::InvalidArgument(vec![v]))?;
            self.admin.set_quota(&caller, &req.tenant, quota).await
        }
        .await;
        let tenant = self
            .audited(
                &caller,
                address,
                UPDATE_QUOTA,
                req.tenant.clone(),
                parameters,
                result,
            )
            .await?;
        Ok(Response::new(convert::tenant_to_pb(&tenant)))
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = self.gate.mutating(&request, CREATE_TOKEN).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        // Never the secret: it does not exist yet, and is not logged after.
        let parameters = serde_json::json!({
            "tenant": req.tenant, "role": req.role, "description": req.description,
            "ttl_seconds": req.ttl.as_ref().map(|d| d.seconds),
        });
        let result = async {
            let ttl = req
                .ttl
                .map(|d| {
                    std::time::Duration::try_from(d)
                        .map_err(|_| Error::invalid("ttl", "must be positive"))
                })
                .transpose()?;
            self.admin
                .create_token(
                    &caller,
                    &req.tenant,
                    convert::role_from_pb(req.role),
                    &req.description,
                    ttl,
                )
                .await
        }
        .await;
        let resource = result
            .as_ref()
            .map(|issued| format!("tokens/{}", issued.token.id))
            .unwrap_or_default();
        let issued = self
            .audited(&caller, address, CREATE_TOKEN, resource, parameters, result)
            .await?;
        Ok(Response::new(pb::CreateTokenResponse {
            token: Some(convert::token_to_pb(&issued.token)),
            secret: issued.secret,
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let tokens = self
            .admin
            .tokens(&caller, &req.tenant)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: tokens.iter().map(convert::token_to_pb).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let caller = self.gate.mutating(&request, REVOKE_TOKEN).await?;
        let address = request.remote_addr();
        let req = request.into_inner();
        let result = self.admin.revoke_token(&caller, &req.id).await;
        if let Ok(token) = &result {
            // Open watches with this token end now, not at their next heartbeat.
            self.gate.announce_revoked(&token.id);
        }
        let token = self
            .audited(
                &caller,
                address,
                REVOKE_TOKEN,
                format!("tokens/{}", req.id),
                serde_json::json!({"id": req.id}),
                result,
            )
            .await?;
        Ok(Response::new(convert::token_to_pb(&token)))
    }
}

/// The audit log over gRPC.
#[derive(Clone)]
pub struct AuditApi {
    log: Arc<dyn AuditLog>,
    gate: Arc<Gate>,
}

impl AuditApi {
    /// Serves `log` behind `gate`.
    pub fn new(log: Arc<dyn AuditLog>, gate: Arc<Gate>) -> Self {
        Self { log, gate }
    }
}

#[tonic::async_trait]
impl AuditServiceRpc for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let caller = self.gate.caller(&request).await?;
        let req = request.into_inner();
        let page = async {
            let scope = match (caller.scope(), req.tenant.is_empty()) {
                (scope, true) => scope,
                (Scope::All, false) => Scope::Tenant(
                    validate::tenant_ref(&req.tenant).map_err(|w| Error::invalid("tenant", w))?,
                ),
                (Scope::Tenant(_), false) => {
                    return Err(Error::PermissionDenied {
                        reason: "ADMIN_ONLY",
                        message: "only administrators may filter by tenant".into(),
                    });
                }
            };
            let size = validate::page_size(req.page_size, "page_size")
                .map_err(|v| Error::InvalidArgument(vec![v]))?;
            let fingerprint = page::fingerprint(&["audit", &req.tenant]);
            let before = page::decode::<i64>(&req.page_token, &fingerprint)
                .map_err(|v| Error::InvalidArgument(vec![v]))?;
            let mut entries = self.log.entries(&scope, before, size + 1).await?;
            let next = if entries.len() as u64 > size {
                entries.truncate(usize::try_from(size).unwrap_or(usize::MAX));
                entries
                    .last()
                    .map(|e| page::encode(&e.id, &fingerprint))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Ok((entries, next))
        }
        .await
        .map_err(to_status)?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries: page.0.iter().map(convert::audit_to_pb).collect(),
            next_page_token: page.1,
        }))
    }
}

/// What the server is, for clients deciding how to talk to it.
///
/// Open to everyone (the dashboard asks before it has a token), so what it
/// says without credentials is what anyone may know: plugin rejection
/// notices name bundle paths on the server and go only to authenticated
/// administrators; others learn that some bundles were rejected.
#[derive(Clone)]
pub struct InfoApi {
    info: pb::ServerInfo,
    admin_notices: Vec<String>,
    gate: Arc<Gate>,
}

impl InfoApi {
    /// Describes a server on `database` with `cluster`, authenticating per
    /// `mode`; `admin_notices` are shown to administrators only.
    pub fn new(
        gate: Arc<Gate>,
        database: &str,
        cluster: &str,
        mut notices: Vec<String>,
        admin_notices: Vec<String>,
    ) -> Self {
        let mode = gate.mode();
        if mode == AuthMode::Disabled {
            notices.insert(
                0,
                "Authentication is disabled: every caller is an administrator. \
                 For local development only."
                    .into(),
            );
        }
        Self {
            info: pb::ServerInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                auth_required: mode == AuthMode::Required,
                database: database.into(),
                cluster: cluster.into(),
                notices,
                ..Default::default()
            },
            admin_notices,
            gate,
        }
    }

    /// The domain stores are served under (`ServerInfo.base_domain`).
    pub fn with_base_domain(mut self, domain: &str) -> Self {
        self.info.base_domain = domain.to_owned();
        self
    }

    /// Names this installation (`ServerInfo.installation_id`).
    pub fn with_installation(mut self, installation: &uuid::Uuid) -> Self {
        self.info.installation_id = installation.to_string();
        self
    }
}

#[tonic::async_trait]
impl InfoServiceRpc for InfoApi {
    async fn get_server_info(
        &self,
        request: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::ServerInfo>, Status> {
        let admin = match self.gate.optional_caller(&request).await {
            Ok(caller) => caller.is_some_and(|c| c.is_admin()),
            // A bad token still gets the public answer; limits still hold.
            Err(status) if status.code() == tonic::Code::Unauthenticated => false,
            Err(status) => return Err(status),
        };
        let mut info = self.info.clone();
        if admin {
            info.notices.extend(self.admin_notices.iter().cloned());
        } else if !self.admin_notices.is_empty() {
            info.notices.push(format!(
                "{} plugin bundle(s) were rejected; an administrator sees why.",
                self.admin_notices.len()
            ));
        }
        Ok(Response::new(info))
    }
}
