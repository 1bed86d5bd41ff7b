//! [`FakeHost`]: an in-memory stand-in for the platform's host.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::calls::{Call, Matcher, Op, Reply, Script};
use crate::{Capability, Engine, Host, HostError, LogLevel, Release, SecretRef};

/// The namespace [`FakeHost::new`] and [`store_context`](super::store_context) use.
pub const DEFAULT_NAMESPACE: &str = "store-test";

/// Kinds that are not namespaced; the real host denies every call about
/// them, and so does the fake.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// A log line the plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// `(apiVersion, kind, name)`
type ObjectKey = (String, String, String);

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<ObjectKey, Value>,
    releases: BTreeMap<String, (Release, Value)>,
    secrets: BTreeMap<String, Vec<String>>,
    calls: Vec<Call>,
    logs: Vec<LogLine>,
    scripts: Vec<Script>,
    resource_version: u64,
}

/// A host that behaves like a tiny in-memory namespace, for plugin unit tests.
///
/// - **Defaults**: `kube_apply` stores the object (setting its namespace and a
///   `resourceVersion`, keeping the stored `status` as server-side apply
///   does), `kube_get`/`kube_list`/`kube_delete` see what was applied or
///   seeded; Helm releases are recorded with their values and an increasing
///   revision, but charts are not rendered (seed the objects a chart would
///   create with [`FakeHost::with_object`]); `ensure_secret` records the keys.
/// - **Scripts**: [`FakeHost::reply_once`], [`FakeHost::reply_always`] and
///   [`FakeHost::fail_once`] answer matching calls before the defaults.
/// - **Grants**, like the real host: a call needing a capability that is not
///   granted, a call about a cluster-scoped kind, or an apply into another
///   namespace fails with [`HostError::Denied`].
/// - **Records**: every call in order ([`FakeHost::calls`],
///   [`FakeHost::call_summaries`]), denied ones included, and the log lines
///   ([`FakeHost::logs`]).
///
/// Scripting a reply that does not fit the call it answers panics.
#[derive(Debug)]
pub struct FakeHost {
    namespace: String,
    granted: BTreeSet<Capability>,
    charts: Option<BTreeSet<String>>,
    state: RefCell<State>,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHost {
    /// An empty namespace [`DEFAULT_NAMESPACE`] with every capability granted.
    pub fn new() -> Self {
        FakeHost {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            granted: Capability::ALL.into_iter().collect(),
            charts: None,
            state: RefCell::default(),
        }
    }

    /// Grants exactly what `E` declares in `describe()`, as an operator who
    /// accepts the manifest would: a call the plugin did not declare fails.
    pub fn for_engine<E: Engine>() -> Self {
        Self::new().granting(&E::default().describe().capabilities)
    }

    /// Scopes the host to `namespace` (match the store context's).
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        namespace.clone_into(&mut self.namespace);
        self
    }

    /// Grants only `capabilities`.
    pub fn granting(mut self, capabilities: &[Capability]) -> Self {
        self.granted = capabilities.iter().copied().collect();
        self
    }

    /// Accepts only these chart names in `helm_install_or_upgrade` (the
    /// bundle's chart directories); by default any chart is accepted.
    pub fn with_charts(mut self, charts: &[&str]) -> Self {
        self.charts = Some(charts.iter().map(|c| (*c).to_owned()).collect());
        self
    }

    /// Seeds an object, as if something had created it.
    pub fn with_object(self, object: Value) -> Self {
        self.put_object(object);
        self
    }

    /// Seeds an installed release of `chart` at revision 1.
    pub fn with_release(self, release: &str, chart: &str) -> Self {
        let record = Release {
            name: release.to_owned(),
            chart: chart.to_owned(),
            chart_version: FAKE_CHART_VERSION.to_owned(),
            revision: 1,
            digest: digest(chart, &Value::Null),
        };
        self.state.borrow_mut().releases.insert(
            release.to_owned(),
            (record, Value::Object(Default::default())),
        );
        self
    }

    /// Answers the next call matching `matcher` with `reply`, once.
    pub fn reply_once(self, matcher: Matcher, reply: Reply) -> Self {
        self.script(matcher, reply, Some(1))
    }

    /// Answers every call matching `matcher` with `reply`.
    pub fn reply_always(self, matcher: Matcher, reply: Reply) -> Self {
        self.script(matcher, reply, None)
    }

    /// Fails the next call matching `matcher` with `error`, once; later
    /// calls get the default behaviour (e.g. "apply fails with conflict once").
    pub fn fail_once(self, matcher: Matcher, error: HostError) -> Self {
        self.reply_once(matcher, Reply::Fail(error))
    }

    fn script(self, matcher: Matcher, reply: Reply, remaining: Option<usize>) -> Self {
        self.state.borrow_mut().scripts.push(Script {
            matcher,
            reply,
            remaining,
        });
        self
    }

    /// Creates or replaces an object without recording a call, e.g. to move
    /// a Deployment's status forward between two `observe` calls.
    pub fn put_object(&self, mut object: Value) {
        let key = object_key(&object);
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(self.namespace.clone()));
        }
        self.state.borrow_mut().objects.insert(key, object);
    }

    /// Removes an object without recording a call.
    pub fn remove_object(&self, api_version: &str, kind: &str, name: &str) {
        self.state
            .borrow_mut()
            .objects
            .remove(&key(api_version, kind, name));
    }

    /// The stored object, if any.
    pub fn object(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.state
            .borrow()
            .objects
            .get(&key(api_version, kind, name))
            .cloned()
    }

    /// Every stored object of `kind`, by name.
    pub fn objects_of(&self, kind: &str) -> Vec<Value> {
        let state = self.state.borrow();
        state
            .objects
            .iter()
            .filter(|((_, k, _), _)| k == kind)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// The release, if installed.
    pub fn release(&self, name: &str) -> Option<Release> {
        self.state
            .borrow()
            .releases
            .get(name)
            .map(|(r, _)| r.clone())
    }

    /// The values of the release's last install or upgrade.
    pub fn release_values(&self, name: &str) -> Option<Value> {
        self.state
            .borrow()
            .releases
            .get(name)
            .map(|(_, v)| v.clone())
    }

    /// The keys of a generated secret, if it was ensured.
    pub fn secret_keys(&self, name: &str) -> Option<Vec<String>> {
        self.state.borrow().secrets.get(name).cloned()
    }

    /// Every call so far, in order (log lines excluded).
    pub fn calls(&self) -> Vec<Call> {
        self.state.borrow().calls.clone()
    }

    /// [`Call::summary`] of every call so far, in order.
    pub fn call_summaries(&self) -> Vec<String> {
        self.state
            .borrow()
            .calls
            .iter()
            .map(Call::summary)
            .collect()
    }

    /// Forgets the calls so far (objects, releases and logs stay).
    pub fn clear_calls(&self) {
        self.state.borrow_mut().calls.clear();
    }

    /// Every log line so far, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    /// The namespace the host is scoped to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Records `call`, applies grants and scoping, then the first matching
    /// script. `Ok(None)` means "use the default behaviour".
    fn begin(&self, call: Call) -> Result<Option<Reply>, HostError> {
        let mut state = self.state.borrow_mut();
        state.calls.push(call.clone());
        let op = call.op();
        let capability = op.capability();
        if !self.granted.contains(&capability) {
            return Err(HostError::Denied(format!(
                "{} needs capability `{}`, which is not granted",
                op.as_str(),
                capability.as_str()
            )));
        }
        if let Some(kind) = call.kind().filter(|k| CLUSTER_SCOPED_KINDS.contains(k)) {
            return Err(HostError::Denied(format!(
                "{kind} is cluster-scoped; plugins only reach objects in namespace {}",
                self.namespace
            )));
        }
        if let Call::KubeApply { object, .. } = &call {
            self.check_applied_object(object)?;
        }
        let script = state
            .scripts
            .iter_mut()
            .find(|s| s.remaining != Some(0) && s.matcher.matches(&call));
        let Some(script) = script else {
            return Ok(None);
        };
        if let Some(remaining) = &mut script.remaining {
            *remaining -= 1;
        }
        match script.reply.clone() {
            Reply::Fail(error) => Err(error),
            reply => Ok(Some(reply)),
        }
    }

    fn check_applied_object(&self, object: &Value) -> Result<(), HostError> {
        let namespace = object["metadata"]["namespace"].as_str();
        if let Some(other) = namespace.filter(|ns| *ns != self.namespace) {
            return Err(HostError::Denied(format!(
                "namespace {other} is outside the store's namespace {}",
                self.namespace
            )));
        }
        for field in ["apiVersion", "kind"] {
            if object[field].as_str().is_none_or(str::is_empty) {
                return Err(HostError::Invalid(format!("the object has no {field}")));
            }
        }
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if !is_dns_subdomain(name) {
            return Err(HostError::Invalid(format!(
                "metadata.name {name:?} is not a DNS subdomain name"
            )));
        }
        Ok(())
    }
}

/// The chart version the fake records for every release.
const FAKE_CHART_VERSION: &str = "0.0.0-fake";

fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
    (api_version.to_owned(), kind.to_owned(), name.to_owned())
}

fn object_key(object: &Value) -> ObjectKey {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["name"]),
    )
}

#[track_caller]
fn misfit(op: Op, reply: Reply) -> ! {
    panic!(
        "FakeHost: the scripted reply {reply:?} does not fit a {} call",
        op.as_str()
    )
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A stand-in for the real host's SHA-256 of the rendered manifests: equal
/// for equal input, so idempotence can be asserted.
fn digest(chart: &str, values: &Value) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in chart.bytes().chain([0]).chain(values.to_string().bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Equality-based selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma-separated.
fn selector_matches(selector: &str, labels: &Value) -> Result<bool, HostError> {
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let label = |k: &str| labels[k.trim()].as_str().map(str::to_owned);
        let ok = if let Some((k, v)) = term.split_once("!=") {
            label(k).as_deref() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            label(k).as_deref() == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            label(k).is_none()
        } else if term.contains([' ', '(']) {
            return Err(HostError::Invalid(format!(
                "FakeHost supports equality selectors only, not {term:?}"
            )));
        } else {
            label(term).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Host for FakeHost {
    fn log(&self, level: LogLevel, message: &str) {
        self.state.borrow_mut().logs.push(LogLine {
            level,
            message: message.to_owned(),
        });
    }

    fn kube_apply(&self, object: &Value) -> Result<Value, HostError> {
        let (api_version, kind, name) = object_key(object);
        let call = Call::KubeApply {
            api_version,
            kind,
            name,
            object: object.clone(),
        };
        match self.begin(call)? {
            Some(Reply::Applied(stored)) => return Ok(stored),
            Some(other) => misfit(Op::KubeApply, other),
            None => {}
        }
        let key = object_key(object);
        let mut state = self.state.borrow_mut();
        state.resource_version += 1;
        let mut stored = object.clone();
        if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(self.namespace.clone()));
            meta.insert(
                "resourceVersion".into(),
                Value::String(state.resource_version.to_string()),
            );
        }
        // Server-side apply of a spec leaves the status the cluster wrote.
        let previous_status = state
            .objects
            .get(&key)
            .and_then(|o| o.get("status"))
            .cloned();
        if let (Some(status), Some(fields)) = (previous_status, stored.as_object_mut()) {
            fields.entry("status").or_insert(status);
        }
        state.objects.insert(key, stored.clone());
        Ok(stored)
    }

    fn kube_get(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, HostError> {
        let call = Call::KubeGet {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
        };
        match self.begin(call)? {
            Some(Reply::Object(object)) => Ok(object),
            Some(other) => misfit(Op::KubeGet, other),
            None => Ok(self.object(api_version, kind, name)),
        }
    }

    fn kube_list(
        &self,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, HostError> {
        let call = Call::KubeList {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            label_selector: label_selector.map(str::to_owned),
        };
        match self.begin(call)? {
            Some(Reply::Objects(objects)) => return Ok(objects),
            Some(other) => misfit(Op::KubeList, other),
            None => {}
        }
        let state = self.state.borrow();
        let mut found = Vec::new();
        for ((a, k, _), object) in &state.objects {
            let selected = match label_selector {
                Some(selector) => selector_matches(selector, &object["metadata"]["labels"])?,
                None => true,
            };
            if a == api_version && k == kind && selected {
                found.push(object.clone());
            }
        }
        Ok(found)
    }

    fn kube_delete(&self, api_version: &str, kind: &str, name: &str) -> Result<bool, HostError> {
        let call = Call::KubeDelete {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
        };
        match self.begin(call)? {
            Some(Reply::Deleted(existed)) => Ok(existed),
            Some(other) => misfit(Op::KubeDelete, other),
            None => Ok(self
                .state
                .borrow_mut()
                .objects
                .remove(&key(api_version, kind, name))
                .is_some()),
        }
    }

    fn helm_install_or_upgrade(
        &self,
        release: &str,
        chart: &str,
        values: &Value,
    ) -> Result<Release, HostError> {
        let call = Call::HelmInstallOrUpgrade {
            release: release.to_owned(),
            chart: chart.to_owned(),
            values: values.clone(),
        };
        match self.begin(call)? {
            Some(Reply::Release(Some(record))) => return Ok(record),
            Some(other) => misfit(Op::HelmInstallOrUpgrade, other),
            None => {}
        }
        if !is_dns_subdomain(release) || release.len() > 53 {
            return Err(HostError::Invalid(format!(
                "release name {release:?} must be a DNS name of at most 53 characters"
            )));
        }
        if !values.is_object() {
            return Err(HostError::Invalid("values must be a JSON object".into()));
        }
        if let Some(charts) = self.charts.as_ref().filter(|c| !c.contains(chart)) {
            return Err(HostError::Invalid(format!(
                "chart {chart:?} is not in the bundle (it has {charts:?})"
            )));
        }
        let mut state = self.state.borrow_mut();
        let revision = state.releases.get(release).map_or(0, |(r, _)| r.revision) + 1;
        let record = Release {
            name: release.to_owned(),
            chart: chart.to_owned(),
            chart_version: FAKE_CHART_VERSION.to_owned(),
            revision,
            digest: digest(chart, values),
        };
        state
            .releases
            .insert(release.to_owned(), (record.clone(), values.clone()));
        Ok(record)
    }

    fn helm_uninstall(&self, release: &str) -> Result<bool, HostError> {
        let call = Call::HelmUninstall {
            release: release.to_owned(),
        };
        match self.begin(call)? {
            Some(Reply::Deleted(existed)) => Ok(existed),
            Some(other) => misfit(Op::HelmUninstall, other),
            None => Ok(self.state.borrow_mut().releases.remove(release).is_some()),
        }
    }

    fn helm_status(&self, release: &str) -> Result<Option<Release>, HostError> {
        let call = Call::HelmStatus {
            release: release.to_owned(),
        };
        match self.begin(call)? {
            Some(Reply::Release(record)) => Ok(record),
            Some(other) => misfit(Op::HelmStatus, other),
            None => Ok(self.release(release)),
        }
    }

    fn ensure_secret(&self, name: &str, keys: &[&str]) -> Result<SecretRef, HostError> {
        let call = Call::EnsureSecret {
            name: name.to_owned(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        };
        match self.begin(call)? {
            Some(Reply::Secret(secret)) => return Ok(secret),
            Some(other) => misfit(Op::EnsureSecret, other),
            None => {}
        }
        if !is_dns_subdomain(name) {
            return Err(HostError::Invalid(format!(
                "secret name {name:?} is not a DNS subdomain name"
            )));
        }
        let valid_key = |k: &&str| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        if keys.is_empty() || !keys.iter().all(valid_key) {
            return Err(HostError::Invalid(format!(
                "secret keys {keys:?} are empty or invalid"
            )));
        }
        let mut state = self.state.borrow_mut();
        let held = state.secrets.entry(name.to_owned()).or_default();
        for key in keys {
            if !held.iter().any(|k| k == key) {
                held.push((*key).to_owned());
            }
        }
        Ok(SecretRef {
            name: name.to_owned(),
            keys: held.clone(),
        })
    }
}
