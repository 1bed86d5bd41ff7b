//! The host API a plugin calls, as a trait so the same plugin code runs in
//! the component (against the real host) and natively against
//! `testing::FakeHost`.

use serde_json::Value;

use crate::{HostError, LogLevel, Release, SecretRef};

/// What the platform lets a plugin do. Every call is scoped to the store's
/// namespace and checked against the capabilities the operator granted; a
/// call outside them fails with [`HostError::Denied`].
///
/// Plugins receive `&dyn Host`; they never construct one (except a fake in
/// tests).
pub trait Host {
    /// Logs into the store's timeline and the platform's log. Never log
    /// secret values (plugins never see them anyway). Needs no capability.
    fn log(&self, level: LogLevel, message: &str);

    /// Server-side applies `object` (a Kubernetes object with `apiVersion`,
    /// `kind` and `metadata.name`) and returns it as stored. The host sets the
    /// namespace, the platform's labels and its field manager. Needs
    /// `kube-write`.
    fn kube_apply(&self, object: &Value) -> Result<Value, HostError>;

    /// Reads an object; `None` when it does not exist. Needs `kube-read`.
    fn kube_get(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, HostError>;

    /// Lists objects of a kind, optionally by label selector (`app=shop`).
    /// Needs `kube-read`.
    fn kube_list(
        &self,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, HostError>;

    /// Deletes an object; `false` when it did not exist. Needs `kube-write`.
    fn kube_delete(&self, api_version: &str, kind: &str, name: &str) -> Result<bool, HostError>;

    /// Renders `chart` (a chart directory name in the plugin's bundle) with
    /// `values` (a JSON object merged over the chart's values.yaml) and
    /// applies it as release `release`, pruning objects the previous revision
    /// had and this one does not. Needs `helm`.
    fn helm_install_or_upgrade(
        &self,
        release: &str,
        chart: &str,
        values: &Value,
    ) -> Result<Release, HostError>;

    /// Deletes every object of the release; `false` when it did not exist.
    /// Needs `helm`.
    fn helm_uninstall(&self, release: &str) -> Result<bool, HostError>;

    /// The current revision of a release; `None` when not installed. Needs `helm`.
    fn helm_status(&self, release: &str) -> Result<Option<Release>, HostError>;

    /// Makes sure Secret `name` exists with a random value (32 letters and
    /// digits) for each of `keys`; existing values are kept. Needs `secrets`.
    fn ensure_secret(&self, name: &str, keys: &[&str]) -> Result<SecretRef, HostError>;
}

/// Shorthands for logging.
impl dyn Host + '_ {
    /// Logs at debug level.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Debug, message.as_ref());
    }

    /// Logs at info level: progress worth showing in the store's timeline.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message.as_ref());
    }

    /// Logs at warn level.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warn, message.as_ref());
    }

    /// Logs at error level.
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message.as_ref());
    }
}
