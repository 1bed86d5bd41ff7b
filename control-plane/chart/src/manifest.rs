//! From rendered files to ordered manifests, as Helm's `releaseutil` does.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::yaml::{self, Numbers};

/// Helm's `InstallOrder`: the kinds in the order they are installed. Kinds
/// not listed go last, sorted by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Helm's hook events (`helm.sh/hook` values it recognises).
const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One Kubernetes object of the rendered chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The template it came from: `chart/templates/deployment.yaml`.
    pub source: String,
    /// The object, parsed as Kubernetes reads YAML (YAML 1.1 scalars,
    /// integers kept integers).
    pub object: Value,
    /// The manifest text as Helm records it.
    pub yaml: String,
}

impl Manifest {
    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The hook events from `helm.sh/hook`, empty for an ordinary manifest.
    pub fn hook_events(&self) -> Vec<String> {
        hook_annotation(&self.object)
            .map(|events| {
                events
                    .split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn hook_annotation(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations/helm.sh~1hook")
        .and_then(Value::as_str)
}

/// A document as Helm lists it, including the comment-only ones that have
/// no object but still appear in `helm template` output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub source: String,
    pub content: String,
    pub kind: String,
    pub object: Value,
}

/// A document's text and where it came from: what `helm template` prints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub source: String,
    pub content: String,
}

/// The sorted result: ordinary manifests in install order, then hooks.
pub(crate) struct Sorted {
    pub manifests: Vec<Entry>,
    pub hooks: Vec<Entry>,
}

/// Helm's `SplitManifests`: documents separated by a line starting with
/// `---` (Go regexp `(?:^|\s*\n)---\s*`), empty ones dropped, leading
/// whitespace trimmed.
pub(crate) fn split_documents(text: &str) -> Vec<String> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0C' | '\r');
    let text = text.trim_start_matches(char::is_whitespace);
    let bytes = text.as_bytes();
    let mut docs = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // A separator at the very start.
    if text.starts_with("---") {
        i = 3;
        while i < bytes.len() && is_space(bytes[i] as char) {
            i += 1;
        }
        start = i;
    }
    while i < bytes.len() {
        if bytes[i] == b'\n' && text[i + 1..].starts_with("---") {
            // The match begins at the whitespace run before this newline.
            let mut begin = i;
            while begin > start && is_space(bytes[begin - 1] as char) {
                begin -= 1;
            }
            docs.push(&text[start..begin]);
            let mut end = i + 4;
            while end < bytes.len() && is_space(bytes[end] as char) {
                end += 1;
            }
            start = end;
            i = end;
            continue;
        }
        i += 1;
    }
    docs.push(&text[start..]);
    docs.into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_start_matches(char::is_whitespace).to_owned())
        .collect()
}

/// Splits, parses and orders the rendered files (`(name, text)`, partials
/// and NOTES already removed) as Helm's `SortManifests` does.
pub(crate) fn sort_manifests(files: &[(String, String)]) -> Result<Sorted> {
    let mut files: Vec<&(String, String)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut manifests = Vec::new();
    let mut hooks = Vec::new();
    for (source, text) in files {
        if text.trim().is_empty() {
            continue;
        }
        for content in split_documents(text) {
            let object =
                yaml::from_yaml(&content, Numbers::Typed).map_err(|e| Error::Manifest {
                    source_file: source.clone(),
                    message: format!("line {}: {}", e.line, e.message),
                })?;
            if !matches!(object, Value::Object(_) | Value::Null) {
                return Err(Error::Manifest {
                    source_file: source.clone(),
                    message: format!(
                        "a manifest must be a YAML map, got: {}",
                        first_line(&content)
                    ),
                });
            }
            let kind = object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let entry = Entry {
                source: source.clone(),
                content,
                kind,
                object,
            };
            match hook_annotation(&entry.object) {
                None => manifests.push(entry),
                Some(events) => {
                    let known = events
                        .split(',')
                        .all(|e| HOOK_EVENTS.contains(&e.trim().to_ascii_lowercase().as_str()));
                    // Helm drops a manifest whose hook it does not know.
                    if known {
                        hooks.push(entry);
                    }
                }
            }
        }
    }
    sort_by_kind(&mut manifests);
    sort_by_kind(&mut hooks);
    Ok(Sorted { manifests, hooks })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Stable sort by install order; unknown kinds last, alphabetically.
fn sort_by_kind(entries: &mut [Entry]) {
    let rank = |kind: &str| INSTALL_ORDER.iter().position(|k| *k == kind);
    entries.sort_by(|a, b| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

/// `helm template`'s output for these documents (manifests, then hooks).
pub(crate) fn helm_template_text(manifests: &[Document], hooks: &[Document]) -> String {
    let size = |documents: &[Document]| {
        documents
            .iter()
            .map(|d| d.source.len() + d.content.len() + 16)
            .sum::<usize>()
    };
    let push = |out: &mut String, document: &Document| {
        out.push_str("---\n# Source: ");
        out.push_str(&document.source);
        out.push('\n');
        out.push_str(&document.content);
        out.push('\n');
    };
    let mut manifest = String::with_capacity(size(manifests));
    for document in manifests {
        push(&mut manifest, document);
    }
    let mut out = String::with_capacity(manifest.len() + size(hooks) + 1);
    out.push_str(manifest.trim_matches(char::is_whitespace));
    out.push('\n');
    for document in hooks {
        push(&mut out, document);
    }
    out
}

/// Hex SHA-256 of `text`.
pub(crate) fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_trailing_text_of_the_last_document_only() {
        let docs = split_documents("\n---\na: 1\n\n---\n# c\n---b: 2\nc: |\n  ---x\n");
        assert_eq!(docs, vec!["a: 1", "# c", "b: 2\nc: |\n  ---x\n"]);
    }

    fn entry(kind: &str, source: &str) -> Entry {
        Entry {
            source: source.to_owned(),
            content: format!("kind: {kind}"),
            kind: kind.to_owned(),
            object: serde_json::json!({"kind": kind}),
        }
    }

    #[test]
    fn install_order_puts_namespaces_first_and_unknown_kinds_last() {
        let mut entries = vec![
            entry("Zebra", "a"),
            entry("Deployment", "b"),
            entry("Apple", "c"),
            entry("Service", "d"),
            entry("Namespace", "e"),
            entry("Deployment", "f"),
            entry("", "g"),
        ];
        sort_by_kind(&mut entries);
        let order: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(order, vec!["e", "d", "b", "f", "g", "c", "a"]);
    }
}
