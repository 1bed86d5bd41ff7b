//! `future-wit`: a plugin built against `storeplane:engine@0.9.0` (a copy of
//! the 0.1.0 WIT with only the version changed, in `wit/`), so the host's
//! tests can check that it refuses a WIT version it does not support.
//!
//! It behaves well otherwise: if a host ever loaded it, every call would
//! succeed, so a test cannot mistake a loaded plugin for a refused one.

/// The id in `describe()` and `plugin.toml`.
pub const ID: &str = "future-wit";

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
#[allow(missing_docs, clippy::all, reason = "generated code")]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "engine" });
}

#[cfg(target_arch = "wasm32")]
mod component {
    use super::bindings::exports::storeplane::engine::plugin::Guest;
    use super::bindings::storeplane::engine::types::{
        EngineInfo, Failure, FieldError, Observation, Phase, StoreContext,
    };

    struct FutureWit;

    impl Guest for FutureWit {
        fn describe() -> EngineInfo {
            EngineInfo {
                id: super::ID.into(),
                display_name: "Future WIT (test)".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                description: "Built against a WIT version no host supports.".into(),
                config_schema: r#"{"type":"object"}"#.into(),
                capabilities: Vec::new(),
            }
        }

        fn validate(_config: String) -> Vec<FieldError> {
            Vec::new()
        }

        fn provision(_store: StoreContext) -> Result<(), Failure> {
            Ok(())
        }

        fn observe(_store: StoreContext) -> Result<Observation, Failure> {
            Ok(Observation {
                phase: Phase::Ready,
                message: "loaded by a host that should have refused it".into(),
                reason: "UnsupportedWitLoaded".into(),
                storefront_url: None,
                admin_url: None,
                credentials_secret: None,
            })
        }

        fn deprovision(_store: StoreContext) -> Result<(), Failure> {
            Ok(())
        }

        fn upgrade(_store: StoreContext, _from_version: String) -> Result<(), Failure> {
            Ok(())
        }
    }

    #[allow(unsafe_code, reason = "the export macro emits FFI entry points")]
    mod export {
        use super::super::bindings;
        use super::FutureWit;
        bindings::export!(FutureWit with_types_in bindings);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wit_copy_differs_from_the_released_one_only_in_version() {
        let copy = include_str!("../wit/engine.wit");
        let released = include_str!("../../../../sdk/wit/0.1.0/engine.wit");
        assert!(copy.contains("package storeplane:engine@0.9.0;"));
        let normalise = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| {
                    !l.starts_with("package ")
                        && !l.starts_with("/// The storeplane engine plugin API")
                })
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(normalise(copy), normalise(released));
    }

    #[test]
    fn manifest_is_valid_and_claims_the_future_wit_version() {
        let manifest =
            storeplane_plugin_bundle::Manifest::parse(include_str!("../plugin.toml")).unwrap();
        assert_eq!(manifest.wit, "0.9.0");
        assert_eq!(manifest.id, super::ID);
    }
}
