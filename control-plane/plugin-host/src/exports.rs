//! The host side of the exports every `storeplane:engine` version shares
//! (`describe`, `validate`, `provision`, `observe`, `deprovision`,
//! `upgrade`): converting to and from each version's generated types and
//! calling them. Like [`crate::imports`], one implementation that
//! [`shared_exports!`] expands inside each version's module; a version adds
//! only what differs (its `store-context` fields, its optional operations,
//! its phases).

/// Expands, in a version's module: `store_context` (0.1.0's fields plus the
/// ones given, written with `$ctx` as the host's context), `capability`,
/// `info`, `failure`, `observation`, `problem` and `invoke_shared`, which
/// calls the shared exports and hands any other operation back. The module
/// provides `operations(&EngineInfo) -> Vec<Operation>` and
/// `phase(Phase) -> ObservedPhase`.
macro_rules! shared_exports {
    (|$ctx:ident| { $($extra:tt)* }) => {
        /// Converts a store context to the WIT record.
        fn store_context($ctx: &crate::StoreContext) -> StoreContext {
            StoreContext {
                id: $ctx.id.clone(),
                name: $ctx.name.clone(),
                namespace: $ctx.namespace.clone(),
                tenant: $ctx.tenant.clone(),
                config: $ctx.config.to_string(),
                generation: $ctx.generation,
                host: $ctx.host.clone(),
                ingress_class: $ctx.ingress_class.clone(),
                storage_class: $ctx.storage_class.clone(),
                tls: $ctx.tls,
                cluster_issuer: $ctx.cluster_issuer.clone(),
                $($extra)*
            }
        }

        fn capability(c: WitCapability) -> crate::manifest::Capability {
            use crate::manifest::Capability;
            match c {
                WitCapability::KubeRead => Capability::KubeRead,
                WitCapability::KubeWrite => Capability::KubeWrite,
                WitCapability::Helm => Capability::Helm,
                WitCapability::Secrets => Capability::Secrets,
            }
        }

        fn info(i: EngineInfo) -> crate::guest::Info {
            let operations = operations(&i);
            crate::guest::Info {
                id: i.id,
                display_name: i.display_name,
                version: i.version,
                description: i.description,
                config_schema: i.config_schema,
                capabilities: i.capabilities.into_iter().map(capability).collect(),
                operations,
            }
        }

        fn failure(f: Failure) -> crate::guest::Failure {
            crate::guest::Failure {
                reason: f.reason,
                message: f.message,
                retryable: f.retryable,
            }
        }

        fn observation(o: Observation) -> crate::guest::Observation {
            crate::guest::Observation {
                phase: phase(o.phase),
                message: o.message,
                reason: o.reason,
                storefront_url: o.storefront_url,
                admin_url: o.admin_url,
                credentials_secret: o.credentials_secret,
            }
        }

        fn problem(e: FieldError) -> crate::guest::FieldError {
            crate::guest::FieldError {
                field: e.field,
                message: e.message,
            }
        }

        /// Calls one of the shared exports; any other operation comes back
        /// for the version to handle.
        async fn invoke_shared(
            guest: &exports::storeplane::engine::plugin::Guest,
            store: &mut wasmtime::Store<crate::state::CallState>,
            op: crate::host::Op,
        ) -> wasmtime::Result<Result<crate::host::Returned, crate::host::Op>> {
            use crate::host::{Op, Returned};
            Ok(Ok(match op {
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
                other => return Ok(Err(other)),
            }))
        }
    };
}
pub(crate) use shared_exports;
