//! Bindings of `storeplane:engine@0.2.x`: conversions between its types and
//! the host's, and one call of an export, including the optional
//! operations 0.2 added. The shared imports are
//! [`crate::imports`]'.

use crate::{
    guest::{self, Operation},
    host::{ObservedPhase, Op, Returned},
    manifest::Capability,
    state::CallState,
};

wasmtime::component::bindgen!({
    path: "../../sdk/wit/0.2.0",
    world: "engine",
    imports: { default: async },
    exports: { default: async },
});

use storeplane::engine::types::{
    Archive, Capability as WitCapability, EngineInfo, Failure, FieldError,
    HostError as WitHostError, JobPhase, JobStatus, Observation, Operation as WitOperation, Phase,
    StoreContext,
};

/// The version prefix this module serves.
pub const VERSION_PREFIX: &str = "0.2.";

crate::imports::shared_imports!();

/// Converts a store context to the WIT record.
fn store_context(ctx: &crate::StoreContext) -> StoreContext {
    StoreContext {
        id: ctx.id.clone(),
        name: ctx.name.clone(),
        namespace: ctx.namespace.clone(),
        tenant: ctx.tenant.clone(),
        config: ctx.config.to_string(),
        generation: ctx.generation,
        host: ctx.host.clone(),
        ingress_class: ctx.ingress_class.clone(),
        storage_class: ctx.storage_class.clone(),
        tls: ctx.tls,
        cluster_issuer: ctx.cluster_issuer.clone(),
        extra_hosts: ctx.extra_hosts.clone(),
        suspended: ctx.suspended,
    }
}

fn operation(o: WitOperation) -> Operation {
    match o {
        WitOperation::Backup => Operation::Backup,
        WitOperation::Restore => Operation::Restore,
        WitOperation::Suspend => Operation::Suspend,
        WitOperation::Resume => Operation::Resume,
    }
}

fn archive(a: &guest::Archive) -> Archive {
    Archive {
        id: a.id.clone(),
        secret: a.secret.clone(),
        transfer_image: a.transfer_image.clone(),
    }
}

fn job_status(s: JobStatus) -> guest::JobStatus {
    guest::JobStatus {
        phase: match s.phase {
            JobPhase::Running => guest::JobPhase::Running,
            JobPhase::Succeeded => guest::JobPhase::Succeeded,
            JobPhase::Failed => guest::JobPhase::Failed,
        },
        message: s.message,
        reason: s.reason,
        size_bytes: s.size_bytes,
        sha256: s.sha256,
    }
}

fn capability(c: WitCapability) -> Capability {
    match c {
        WitCapability::KubeRead => Capability::KubeRead,
        WitCapability::KubeWrite => Capability::KubeWrite,
        WitCapability::Helm => Capability::Helm,
        WitCapability::Secrets => Capability::Secrets,
    }
}

fn info(i: EngineInfo) -> guest::Info {
    guest::Info {
        id: i.id,
        display_name: i.display_name,
        version: i.version,
        description: i.description,
        config_schema: i.config_schema,
        capabilities: i.capabilities.into_iter().map(capability).collect(),
        operations: i.operations.into_iter().map(operation).collect(),
    }
}

fn failure(f: Failure) -> guest::Failure {
    guest::Failure {
        reason: f.reason,
        message: f.message,
        retryable: f.retryable,
    }
}

fn observation(o: Observation) -> guest::Observation {
    guest::Observation {
        phase: match o.phase {
            Phase::Provisioning => ObservedPhase::Provisioning,
            Phase::Ready => ObservedPhase::Ready,
            Phase::Failed => ObservedPhase::Failed,
            Phase::Suspended => ObservedPhase::Suspended,
        },
        message: o.message,
        reason: o.reason,
        storefront_url: o.storefront_url,
        admin_url: o.admin_url,
        credentials_secret: o.credentials_secret,
    }
}

fn problem(e: FieldError) -> guest::FieldError {
    guest::FieldError {
        field: e.field,
        message: e.message,
    }
}

/// Calls `op` on a fresh instance.
pub(crate) async fn invoke(
    pre: &EnginePre<CallState>,
    store: &mut wasmtime::Store<CallState>,
    op: Op,
) -> wasmtime::Result<Returned> {
    let bindings = pre.instantiate_async(&mut *store).await?;
    let guest = bindings.storeplane_engine_plugin();
    Ok(match op {
        Op::Describe => Returned::Info(info(guest.call_describe(&mut *store).await?)),
        Op::Validate(config) => Returned::Problems(
            guest
                .call_validate(&mut *store, &config)
                .await?
                .into_iter()
                .map(problem)
                .collect(),
        ),
        Op::Provision(ctx) => Returned::Done(
            guest
                .call_provision(&mut *store, &store_context(&ctx))
                .await?
                .map_err(failure),
        ),
        Op::Observe(ctx) => Returned::Observed(
            guest
                .call_observe(&mut *store, &store_context(&ctx))
                .await?
                .map(observation)
                .map_err(failure),
        ),
        Op::Deprovision(ctx) => Returned::Done(
            guest
                .call_deprovision(&mut *store, &store_context(&ctx))
                .await?
                .map_err(failure),
        ),
        Op::Upgrade(ctx, from) => Returned::Done(
            guest
                .call_upgrade(&mut *store, &store_context(&ctx), &from)
                .await?
                .map_err(failure),
        ),
        Op::Backup(ctx, a) => Returned::Job(
            guest
                .call_backup(&mut *store, &store_context(&ctx), &archive(&a))
                .await?
                .map(job_status)
                .map_err(failure),
        ),
        Op::Restore(ctx, a) => Returned::Job(
            guest
                .call_restore(&mut *store, &store_context(&ctx), &archive(&a))
                .await?
                .map(job_status)
                .map_err(failure),
        ),
        Op::Suspend(ctx) => Returned::Done(
            guest
                .call_suspend(&mut *store, &store_context(&ctx))
                .await?
                .map_err(failure),
        ),
        Op::Resume(ctx) => Returned::Done(
            guest
                .call_resume(&mut *store, &store_context(&ctx))
                .await?
                .map_err(failure),
        ),
    })
}
