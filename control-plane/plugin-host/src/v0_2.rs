//! Bindings of `storeplane:engine@0.2.x`. The shared imports are
//! [`crate::imports`]', the shared exports [`crate::exports`]'; this module
//! adds what 0.2 added: the optional operations, custom domains and
//! suspension.

use crate::{
    guest::{self, Operation},
    host::{ObservedPhase, Op, Returned},
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
crate::exports::shared_exports!(|ctx| {
    extra_hosts: ctx.extra_hosts.clone(),
    suspended: ctx.suspended,
});

fn operations(i: &EngineInfo) -> Vec<Operation> {
    i.operations
        .iter()
        .map(|o| match o {
            WitOperation::Backup => Operation::Backup,
            WitOperation::Restore => Operation::Restore,
            WitOperation::Suspend => Operation::Suspend,
            WitOperation::Resume => Operation::Resume,
        })
        .collect()
}

fn phase(p: Phase) -> ObservedPhase {
    match p {
        Phase::Provisioning => ObservedPhase::Provisioning,
        Phase::Ready => ObservedPhase::Ready,
        Phase::Failed => ObservedPhase::Failed,
        Phase::Suspended => ObservedPhase::Suspended,
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

/// Calls `op` on a fresh instance.
pub(crate) async fn invoke(
    pre: &EnginePre<CallState>,
    store: &mut wasmtime::Store<CallState>,
    op: Op,
) -> wasmtime::Result<Returned> {
    let bindings = pre.instantiate_async(&mut *store).await?;
    let guest = bindings.storeplane_engine_plugin();
    let op = match invoke_shared(guest, store, op).await? {
        Ok(returned) => return Ok(returned),
        Err(op) => op,
    };
    Ok(match op {
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
        // `invoke_shared` answers these; one coming back is the host's bug.
        shared @ (Op::Describe
        | Op::Validate(_)
        | Op::Provision(_)
        | Op::Observe(_)
        | Op::Deprovision(_)
        | Op::Upgrade(..)) => {
            return Err(wasmtime::Error::msg(format!(
                "{} came back from the shared exports",
                shared.name()
            )));
        }
    })
}
