//! From the host's view of a call (JSON text, a raw store context) to the
//! engine's typed methods. Shared by the component exports and the test
//! harness, so unit tests exercise the same path as the real host.

use crate::{
    Archive, Engine, FieldError, Host, JobStatus, Observation, Result, Store, StoreContext,
};

/// `validate`: deserialization errors first, then the engine's own checks.
pub(crate) fn validate<E: Engine>(engine: &E, config: &str) -> Vec<FieldError> {
    match serde_json::from_str::<E::Config>(config) {
        Ok(config) => engine.validate(&config),
        Err(error) => vec![FieldError::new(field_of(&error), error.to_string())],
    }
}

pub(crate) fn provision<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
) -> Result<()> {
    engine.provision(host, &Store::from_context(context)?)
}

pub(crate) fn observe<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
) -> Result<Observation> {
    engine.observe(host, &Store::from_context(context)?)
}

pub(crate) fn deprovision<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
) -> Result<()> {
    engine.deprovision(host, &Store::from_context(context)?)
}

pub(crate) fn upgrade<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
    from_version: &str,
) -> Result<()> {
    engine.upgrade(host, &Store::from_context(context)?, from_version)
}

#[cfg_attr(
    feature = "wit-0-1",
    allow(dead_code, reason = "a 0.1 component exports no optional operations")
)]
pub(crate) fn suspend<E: Engine>(engine: &E, host: &dyn Host, context: StoreContext) -> Result<()> {
    engine.suspend(host, &Store::from_context(context)?)
}

#[cfg_attr(
    feature = "wit-0-1",
    allow(dead_code, reason = "a 0.1 component exports no optional operations")
)]
pub(crate) fn resume<E: Engine>(engine: &E, host: &dyn Host, context: StoreContext) -> Result<()> {
    engine.resume(host, &Store::from_context(context)?)
}

#[cfg_attr(
    feature = "wit-0-1",
    allow(dead_code, reason = "a 0.1 component exports no optional operations")
)]
pub(crate) fn backup<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
    archive: &Archive,
) -> Result<JobStatus> {
    engine.backup(host, &Store::from_context(context)?, archive)
}

#[cfg_attr(
    feature = "wit-0-1",
    allow(dead_code, reason = "a 0.1 component exports no optional operations")
)]
pub(crate) fn restore<E: Engine>(
    engine: &E,
    host: &dyn Host,
    context: StoreContext,
    archive: &Archive,
) -> Result<JobStatus> {
    engine.restore(host, &Store::from_context(context)?, archive)
}

/// The field a serde error is about, when serde names it (missing and
/// unknown fields); otherwise the whole configuration (empty path). Avoids a
/// path-tracking dependency for the common cases.
fn field_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Config {
        title: String,
    }

    fn errors(config: &str) -> Vec<(String, String)> {
        let error = serde_json::from_str::<Config>(config).unwrap_err();
        vec![(field_of(&error), error.to_string())]
    }

    #[test]
    fn serde_errors_name_the_missing_or_unknown_field() {
        assert_eq!(errors("{}")[0].0, "title");
        assert_eq!(errors(r#"{"title":"a","extra":1}"#)[0].0, "extra");
        assert_eq!(errors("[1]")[0].0, "");
    }
}
