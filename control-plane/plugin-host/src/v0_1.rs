//! Bindings of `storeplane:engine@0.1.x`: conversions between its types and
//! the host's, and one call of an export. The shared imports are
//! [`crate::imports`]'.

use crate::{
    guest,
    host::{ObservedPhase, Op, Returned},
    manifest::Capability,
    state::CallState,
};

wasmtime::component::bindgen!({
    path: "../../sdk/wit/0.1.0",
    world: "engine",
    imports: { default: async },
    exports: { default: async },
});

use storeplane::engine::types::{
    Capability as WitCapability, EngineInfo, Failure, FieldError, HostError as WitHostError,
    Observation, Phase, StoreContext,
};

/// The version prefix this module serves.
pub const VERSION_PREFIX: &str = "0.1.";

crate::imports::shared_imports!();

/// Converts a store context to the WIT record. 0.1 has no extra hosts and
/// no suspension; the platform never suspends a 0.1 plugin's store.
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
        operations: Vec::new(),
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
        // The host refuses these before calling: a 0.1 plugin describes no
        // optional operation. Reaching here is the host's bug.
        Op::Backup(..) | Op::Restore(..) | Op::Suspend(_) | Op::Resume(_) => {
            return Err(wasmtime::Error::msg(format!(
                "{} is not part of storeplane:engine@0.1",
                op.name()
            )));
        }
    })
}
