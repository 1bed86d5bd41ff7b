//! What the fake host records (`Call`) and how tests script it (`Matcher`,
//! `Reply`).

use serde_json::Value;

use crate::{Capability, HostError, Release, SecretRef};

/// A host operation, without its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `kube.apply`
    KubeApply,
    /// `kube.get`
    KubeGet,
    /// `kube.list`
    KubeList,
    /// `kube.delete`
    KubeDelete,
    /// `helm.install-or-upgrade`
    HelmInstallOrUpgrade,
    /// `helm.uninstall`
    HelmUninstall,
    /// `helm.status`
    HelmStatus,
    /// `secrets.ensure-secret`
    EnsureSecret,
}

impl Op {
    /// The capability the real host requires for this operation.
    pub fn capability(self) -> Capability {
        match self {
            Op::KubeGet | Op::KubeList => Capability::KubeRead,
            Op::KubeApply | Op::KubeDelete => Capability::KubeWrite,
            Op::HelmInstallOrUpgrade | Op::HelmUninstall | Op::HelmStatus => Capability::Helm,
            Op::EnsureSecret => Capability::Secrets,
        }
    }

    /// The WIT name, e.g. `kube.apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::KubeApply => "kube.apply",
            Op::KubeGet => "kube.get",
            Op::KubeList => "kube.list",
            Op::KubeDelete => "kube.delete",
            Op::HelmInstallOrUpgrade => "helm.install-or-upgrade",
            Op::HelmUninstall => "helm.uninstall",
            Op::HelmStatus => "helm.status",
            Op::EnsureSecret => "secrets.ensure-secret",
        }
    }
}

/// One host call the plugin made, with its arguments. Log lines are kept
/// apart (see [`FakeHost::logs`](super::FakeHost::logs)).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `kube.apply`; `object` as the plugin sent it.
    KubeApply {
        /// `apiVersion` of the object (empty when missing).
        api_version: String,
        /// `kind` of the object (empty when missing).
        kind: String,
        /// `metadata.name` (empty when missing).
        name: String,
        /// The object as sent.
        object: Value,
    },
    /// `kube.get`
    KubeGet {
        /// API version asked for.
        api_version: String,
        /// Kind asked for.
        kind: String,
        /// Name asked for.
        name: String,
    },
    /// `kube.list`
    KubeList {
        /// API version asked for.
        api_version: String,
        /// Kind asked for.
        kind: String,
        /// Label selector, if any.
        label_selector: Option<String>,
    },
    /// `kube.delete`
    KubeDelete {
        /// API version asked for.
        api_version: String,
        /// Kind asked for.
        kind: String,
        /// Name asked for.
        name: String,
    },
    /// `helm.install-or-upgrade`
    HelmInstallOrUpgrade {
        /// Release name.
        release: String,
        /// Chart directory name.
        chart: String,
        /// Values as sent.
        values: Value,
    },
    /// `helm.uninstall`
    HelmUninstall {
        /// Release name.
        release: String,
    },
    /// `helm.status`
    HelmStatus {
        /// Release name.
        release: String,
    },
    /// `secrets.ensure-secret`
    EnsureSecret {
        /// Secret name.
        name: String,
        /// Keys asked for.
        keys: Vec<String>,
    },
}

impl Call {
    /// The operation.
    pub fn op(&self) -> Op {
        match self {
            Call::KubeApply { .. } => Op::KubeApply,
            Call::KubeGet { .. } => Op::KubeGet,
            Call::KubeList { .. } => Op::KubeList,
            Call::KubeDelete { .. } => Op::KubeDelete,
            Call::HelmInstallOrUpgrade { .. } => Op::HelmInstallOrUpgrade,
            Call::HelmUninstall { .. } => Op::HelmUninstall,
            Call::HelmStatus { .. } => Op::HelmStatus,
            Call::EnsureSecret { .. } => Op::EnsureSecret,
        }
    }

    /// The kind for kube calls, `None` otherwise.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Call::KubeApply { kind, .. }
            | Call::KubeGet { kind, .. }
            | Call::KubeList { kind, .. }
            | Call::KubeDelete { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The object, release or secret name; `None` for `kube.list`.
    pub fn name(&self) -> Option<&str> {
        match self {
            Call::KubeApply { name, .. }
            | Call::KubeGet { name, .. }
            | Call::KubeDelete { name, .. }
            | Call::EnsureSecret { name, .. } => Some(name),
            Call::HelmInstallOrUpgrade { release, .. }
            | Call::HelmUninstall { release }
            | Call::HelmStatus { release } => Some(release),
            Call::KubeList { .. } => None,
        }
    }

    /// A one-line summary for order assertions: `kube.apply ConfigMap/site`,
    /// `kube.list Pod`, `helm.install-or-upgrade shop`,
    /// `secrets.ensure-secret shop-admin`.
    pub fn summary(&self) -> String {
        match (self.kind(), self.name()) {
            (Some(kind), Some(name)) => format!("{} {kind}/{name}", self.op().as_str()),
            (Some(kind), None) => format!("{} {kind}", self.op().as_str()),
            (None, Some(name)) => format!("{} {name}", self.op().as_str()),
            (None, None) => self.op().as_str().to_owned(),
        }
    }
}

/// Which calls a scripted reply applies to: an operation, optionally a kind
/// (kube calls) and a name (object, release or secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    op: Op,
    kind: Option<String>,
    name: Option<String>,
}

impl Matcher {
    /// Every call of `op`.
    pub fn any(op: Op) -> Self {
        Matcher {
            op,
            kind: None,
            name: None,
        }
    }

    fn kube(op: Op, kind: &str) -> Self {
        Matcher {
            kind: Some(kind.to_owned()),
            ..Matcher::any(op)
        }
    }

    /// `kube.apply` of objects of `kind`; narrow with [`Matcher::named`].
    pub fn apply(kind: &str) -> Self {
        Self::kube(Op::KubeApply, kind)
    }

    /// `kube.get` of `kind`; narrow with [`Matcher::named`].
    pub fn get(kind: &str) -> Self {
        Self::kube(Op::KubeGet, kind)
    }

    /// `kube.list` of `kind`.
    pub fn list(kind: &str) -> Self {
        Self::kube(Op::KubeList, kind)
    }

    /// `kube.delete` of `kind`; narrow with [`Matcher::named`].
    pub fn delete(kind: &str) -> Self {
        Self::kube(Op::KubeDelete, kind)
    }

    /// `helm.install-or-upgrade` of `release`.
    pub fn helm_install(release: &str) -> Self {
        Matcher::any(Op::HelmInstallOrUpgrade).named(release)
    }

    /// `helm.uninstall` of `release`.
    pub fn helm_uninstall(release: &str) -> Self {
        Matcher::any(Op::HelmUninstall).named(release)
    }

    /// `helm.status` of `release`.
    pub fn helm_status(release: &str) -> Self {
        Matcher::any(Op::HelmStatus).named(release)
    }

    /// `secrets.ensure-secret` of `name`.
    pub fn ensure_secret(name: &str) -> Self {
        Matcher::any(Op::EnsureSecret).named(name)
    }

    /// Only calls about `name` (object, release or secret).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub(crate) fn matches(&self, call: &Call) -> bool {
        self.op == call.op()
            && self.kind.as_deref().is_none_or(|k| call.kind() == Some(k))
            && self.name.as_deref().is_none_or(|n| call.name() == Some(n))
    }
}

/// A scripted answer. It must fit the call it answers (e.g. `Object` for
/// `kube.get`); `Fail` fits every call.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Any call: fail with this error.
    Fail(HostError),
    /// `kube.apply`: the object as stored.
    Applied(Value),
    /// `kube.get`: the object, or `None` for "does not exist".
    Object(Option<Value>),
    /// `kube.list`: the objects.
    Objects(Vec<Value>),
    /// `kube.delete` and `helm.uninstall`: whether it existed.
    Deleted(bool),
    /// `helm.install-or-upgrade` (must be `Some`) and `helm.status`.
    Release(Option<Release>),
    /// `secrets.ensure-secret`.
    Secret(SecretRef),
}

/// A reply waiting for matching calls; `remaining: None` means forever.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub(crate) matcher: Matcher,
    pub(crate) reply: Reply,
    pub(crate) remaining: Option<usize>,
}
