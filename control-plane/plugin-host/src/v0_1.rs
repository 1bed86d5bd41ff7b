//! Bindings of `storeplane:engine@0.1.x`. The shared imports are
//! [`crate::imports`]', the shared exports [`crate::exports`]'; 0.1 has no
//! optional operation, no custom domains and no suspension.

use crate::{
    guest::Operation,
    host::{ObservedPhase, Op, Returned},
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
crate::exports::shared_exports!(|ctx| {});

fn operations(_: &EngineInfo) -> Vec<Operation> {
    Vec::new()
}

fn phase(p: Phase) -> ObservedPhase {
    match p {
        Phase::Provisioning => ObservedPhase::Provisioning,
        Phase::Ready => ObservedPhase::Ready,
        Phase::Failed => ObservedPhase::Failed,
    }
}

/// Calls `op` on a fresh instance.
pub(crate) async fn invoke(
    pre: &EnginePre<CallState>,
    store: &mut wasmtime::Store<CallState>,
    op: Op,
) -> wasmtime::Result<Returned> {
    let bindings = pre.instantiate_async(&mut *store).await?;
    match invoke_shared(bindings.storeplane_engine_plugin(), store, op).await? {
        Ok(returned) => Ok(returned),
        // The host refuses the optional operations before calling: a 0.1
        // plugin describes none. Reaching here is the host's bug.
        Err(op) => Err(wasmtime::Error::msg(format!(
            "{} is not part of storeplane:engine@0.1",
            op.name()
        ))),
    }
}
