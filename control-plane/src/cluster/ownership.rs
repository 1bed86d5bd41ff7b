//! What storeplane owns in a cluster, decided from labels alone (Argo CD's
//! and Flux's rule: act only on what you created). Every object storeplane
//! creates carries the store's id and this installation's id; nothing is
//! adopted, patched by force, pruned or deleted unless it carries both.

use serde_json::{Map, Value};

/// Label naming the store an object belongs to (its id).
pub const LABEL_STORE: &str = "storeplane.dev/store";
/// Label naming the tenant an object belongs to.
pub const LABEL_TENANT: &str = "storeplane.dev/tenant";
/// Label naming the installation (database) that created an object.
pub const LABEL_INSTANCE: &str = "storeplane.dev/instance";
/// The standard managed-by label.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`] on storeplane's objects.
pub const MANAGED_BY: &str = "storeplane";

/// Who owns an object, as far as one store of one installation is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Labelled with this store's id and this installation's id.
    Ours,
    /// Labelled with this store's id but no installation id: created by a
    /// storeplane from before installation ids. Store ids are random UUIDs,
    /// so only an installation holding this store's record can have made
    /// it; it is adopted (and labelled) like [`Ownership::Ours`].
    Legacy,
    /// Anything else; the text says what the labels claim, for people.
    Foreign(String),
}

impl Ownership {
    /// Whether storeplane may act on the object for this store.
    pub fn is_ours(&self) -> bool {
        matches!(self, Self::Ours | Self::Legacy)
    }
}

/// The owner labels of one store of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Store id.
    pub store: String,
    /// Tenant id (without `tenants/`).
    pub tenant: String,
    /// Installation id.
    pub installation: String,
}

impl Owner {
    /// The labels every object of the store carries.
    pub fn labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        labels.insert(LABEL_STORE.into(), Value::String(self.store.clone()));
        labels.insert(LABEL_TENANT.into(), Value::String(self.tenant.clone()));
        labels.insert(
            LABEL_INSTANCE.into(),
            Value::String(self.installation.clone()),
        );
        labels.insert(LABEL_MANAGED_BY.into(), Value::String(MANAGED_BY.into()));
        labels
    }

    /// Puts the owner labels on `object` (creating `metadata.labels`).
    pub fn label(&self, object: &mut Value) {
        let metadata = &mut object["metadata"];
        if !metadata["labels"].is_object() {
            metadata["labels"] = Value::Object(Map::new());
        }
        if let Some(labels) = metadata["labels"].as_object_mut() {
            labels.extend(self.labels());
        }
    }

    /// Whether `object` (a JSON Kubernetes object) belongs to this store of
    /// this installation.
    pub fn owns(&self, object: &Value) -> Ownership {
        let labels = &object["metadata"]["labels"];
        let store = labels[LABEL_STORE].as_str();
        let instance = labels[LABEL_INSTANCE].as_str();
        match (store, instance) {
            (Some(s), Some(i)) if s == self.store && i == self.installation => Ownership::Ours,
            (Some(s), None) if s == self.store => Ownership::Legacy,
            (None, _) => Ownership::Foreign("it has no storeplane.dev/store label".into()),
            (Some(s), _) if s != self.store => {
                Ownership::Foreign(format!("it belongs to store {s}"))
            }
            (_, Some(i)) => Ownership::Foreign(format!(
                "it was created by another storeplane installation ({i})"
            )),
            (Some(_), None) => Ownership::Foreign("its labels do not name this store".into()),
        }
    }
}

/// The store id and installation id an object is labelled with, when it is
/// labelled as a storeplane object at all (managed-by and a store id).
pub fn claimed_by(object: &Value) -> Option<(String, Option<String>)> {
    let labels = &object["metadata"]["labels"];
    if labels[LABEL_MANAGED_BY].as_str() != Some(MANAGED_BY) {
        return None;
    }
    let store = labels[LABEL_STORE].as_str()?.to_owned();
    let instance = labels[LABEL_INSTANCE].as_str().map(str::to_owned);
    Some((store, instance))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn owner() -> Owner {
        Owner {
            store: "s1".into(),
            tenant: "acme".into(),
            installation: "i1".into(),
        }
    }

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "store-x", "labels": labels}})
    }

    #[test]
    fn an_object_is_ours_only_with_both_the_store_and_the_installation_id() {
        let o = owner();
        assert_eq!(
            o.owns(&labelled(
                json!({"storeplane.dev/store": "s1", "storeplane.dev/instance": "i1"})
            )),
            Ownership::Ours
        );
        for foreign in [
            json!({}),
            json!({"app.kubernetes.io/managed-by": "storeplane"}),
            json!({"storeplane.dev/store": "s2", "storeplane.dev/instance": "i1"}),
            json!({"storeplane.dev/store": "s1", "storeplane.dev/instance": "i2"}),
            json!({"storeplane.dev/store": "s2"}),
        ] {
            let verdict = o.owns(&labelled(foreign.clone()));
            assert!(
                matches!(verdict, Ownership::Foreign(_)),
                "{foreign}: {verdict:?}"
            );
        }
        assert_eq!(
            o.owns(&json!({"metadata": {"name": "x"}})),
            Ownership::Foreign("it has no storeplane.dev/store label".into())
        );
    }

    #[test]
    fn a_namespace_from_before_installation_ids_is_adopted_as_legacy() {
        let verdict = owner().owns(&labelled(json!({"storeplane.dev/store": "s1"})));
        assert_eq!(verdict, Ownership::Legacy);
        assert!(verdict.is_ours());
    }

    #[test]
    fn labelling_an_object_makes_it_owned() {
        let o = owner();
        let mut object = json!({"metadata": {"name": "web", "labels": {"app": "web"}}});
        o.label(&mut object);
        assert_eq!(o.owns(&object), Ownership::Ours);
        assert_eq!(object["metadata"]["labels"]["app"], "web");
        assert_eq!(
            claimed_by(&object),
            Some(("s1".to_owned(), Some("i1".to_owned())))
        );
        assert_eq!(claimed_by(&json!({"metadata": {"labels": {}}})), None);
    }
}
