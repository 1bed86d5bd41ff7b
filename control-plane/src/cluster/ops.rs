//! Kubernetes operations on dynamic objects: discovery, server-side apply
//! under one field manager, get/list/delete, namespaces.

use std::{collections::HashMap, sync::RwLock};

use kube::{
    Client,
    api::{
        Api, DeleteParams, DynamicObject, GetParams, ListParams, Patch, PatchParams, PostParams,
        Preconditions,
    },
    core::{ApiResource, GroupVersion},
    discovery::{self, Scope},
};
use serde_json::Value;
use storeplane_plugin_host::KindScope;

use super::error::{Error, ErrorKind};

/// The field manager of what plugins apply (their objects and charts).
pub const FIELD_MANAGER: &str = "storeplane";
/// The field manager of the platform's baseline (namespace labels, quota,
/// limit range, network policies). Separate from plugins' so that nothing a
/// plugin applies can take those fields over, and so drift is visible in
/// `managedFields`.
pub const PLATFORM_FIELD_MANAGER: &str = "storeplane-platform";

/// Dynamic Kubernetes operations with a discovery cache.
pub struct KubeOps {
    client: Client,
    resources: RwLock<HashMap<(String, String), (ApiResource, Scope)>>,
}

/// Refuses a name that would not stay one URL path segment (kube-rs puts
/// names into paths unescaped): Kubernetes' own `IsValidPathSegmentName`.
/// The plugin host checks plugin names more strictly (DNS-1123); this is
/// the last line for every caller.
fn path_segment(name: &str) -> Result<&str, Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '%']) {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("{name:?} is not a valid object name"),
        ));
    }
    Ok(name)
}

impl KubeOps {
    /// Operations through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            resources: RwLock::new(HashMap::new()),
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Finds the resource of `kind` in `api_version` (e.g. `apps/v1`).
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, Scope), Error> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self
            .resources
            .read()
            .map_err(|_| Error::new(ErrorKind::Unavailable, "discovery cache poisoned"))?
            .get(&key)
        {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        // One discovery request per group-version, caching every kind it
        // serves: a store's chart touches several kinds of the same few
        // group-versions.
        let not_served = || {
            Error::new(
                ErrorKind::Invalid,
                format!("the cluster does not serve {kind} in {api_version}"),
            )
        };
        let served = discovery::pinned_group(&self.client, &GroupVersion::gv(group, version))
            .await
            .map_err(|e| match Error::from(e) {
                e if e.is_not_found() => not_served(),
                other => other,
            })?
            .versioned_resources(version);
        let found = served
            .iter()
            .find(|(resource, _)| resource.kind == kind)
            .map(|(resource, caps)| (resource.clone(), caps.scope.clone()));
        if let Ok(mut cache) = self.resources.write() {
            for (resource, caps) in served {
                cache.insert(
                    (api_version.to_owned(), resource.kind.clone()),
                    (resource, caps.scope),
                );
            }
        }
        found.ok_or_else(not_served)
    }

    /// Whether a kind is namespaced.
    pub async fn kind_scope(&self, api_version: &str, kind: &str) -> Result<KindScope, Error> {
        Ok(match self.resolve(api_version, kind).await?.1 {
            Scope::Namespaced => KindScope::Namespaced,
            Scope::Cluster => KindScope::Cluster,
        })
    }

    async fn api(
        &self,
        namespace: Option<&str>,
        api_version: &str,
        kind: &str,
    ) -> Result<Api<DynamicObject>, Error> {
        let (resource, scope) = self.resolve(api_version, kind).await?;
        Ok(match (scope, namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            _ => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Server-side applies `object` (in `namespace` when namespaced) as the
    /// plugins' field manager, and returns the object as applied.
    pub async fn apply(&self, namespace: Option<&str>, object: &Value) -> Result<Value, Error> {
        let text = self.apply_request(FIELD_MANAGER, namespace, object).await?;
        Ok(serde_json::from_str(&text)?)
    }

    /// [`Self::apply`] for a caller that does not read the object as
    /// applied (a chart's objects): the answer is checked for an error and
    /// not parsed. A store's provision applies a dozen objects whose
    /// answers (each with its `managedFields`) were parsed and converted
    /// only to be dropped.
    pub async fn apply_unread(&self, namespace: Option<&str>, object: &Value) -> Result<(), Error> {
        self.apply_as(FIELD_MANAGER, namespace, object).await
    }

    /// Server-side applies `object` as `manager`, taking over conflicting
    /// fields (`force`): the caller has checked that the object is its own.
    /// The object as applied is not read (see [`Self::apply_unread`]).
    pub async fn apply_as(
        &self,
        manager: &str,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<(), Error> {
        self.apply_request(manager, namespace, object)
            .await
            .map(drop)
    }

    /// The server-side apply of `object` as `manager` (with `force`), and
    /// the API server's answer as it came: the object as applied.
    ///
    /// The request is built as `Api::patch` builds it, but the answer is
    /// not deserialized into a `DynamicObject` (typed metadata, every
    /// `managedFields` entry) and serialized back into a `Value`, as
    /// `Api::patch` and the conversion after it did on every apply.
    async fn apply_request(
        &self,
        manager: &str,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<String, Error> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"]
            .as_str()
            .ok_or_else(|| Error::new(ErrorKind::Invalid, "object has no metadata.name"))
            .and_then(path_segment)?;
        let api = self.api(namespace, api_version, kind).await?;
        let mut request = kube::core::Request::new(api.resource_url())
            .patch(
                name,
                &PatchParams::apply(manager).force(),
                &Patch::Apply(object),
            )
            .map_err(kube::Error::BuildRequest)?;
        // What `Api::patch` marks its requests with (the client's trace
        // spans name the verb from it).
        request.extensions_mut().insert("patch");
        Ok(self.client.request_text(request).await?)
    }

    /// Creates `object`; `Conflict` when it already exists (unlike apply,
    /// never takes over an existing object). The answer is parsed straight
    /// into a `Value` (see [`Self::apply_request`]).
    pub async fn create(
        &self,
        manager: &str,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<Value, Error> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        if !object["metadata"].is_object() {
            return Err(Error::new(
                ErrorKind::Invalid,
                "not a Kubernetes object: it has no metadata",
            ));
        }
        let api = self.api(namespace, api_version, kind).await?;
        let params = PostParams {
            field_manager: Some(manager.to_owned()),
            ..PostParams::default()
        };
        let mut request = kube::core::Request::new(api.resource_url())
            .create(&params, serde_json::to_vec(object)?)
            .map_err(kube::Error::BuildRequest)?;
        request.extensions_mut().insert("create");
        Ok(self.client.request::<Value>(request).await?)
    }

    /// Reads an object; `None` when absent. The answer is parsed straight
    /// into a `Value` (see [`Self::apply_request`]).
    pub async fn get(
        &self,
        namespace: Option<&str>,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, Error> {
        let api = self.api(namespace, api_version, kind).await?;
        let mut request = kube::core::Request::new(api.resource_url())
            .get(path_segment(name)?, &GetParams::default())
            .map_err(kube::Error::BuildRequest)?;
        request.extensions_mut().insert("get");
        match self.client.request::<Value>(request).await {
            Ok(object) => Ok(Some(object)),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Lists objects, optionally by label selector.
    pub async fn list(
        &self,
        namespace: Option<&str>,
        api_version: &str,
        kind: &str,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, Error> {
        let api = self.api(namespace, api_version, kind).await?;
        let mut params = ListParams::default();
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        let list = api.list(&params).await?;
        list.items
            .into_iter()
            .map(|o| {
                let mut v = serde_json::to_value(o)?;
                // List items come without apiVersion/kind; put them back.
                v["apiVersion"] = Value::String(api_version.to_owned());
                v["kind"] = Value::String(kind.to_owned());
                Ok(v)
            })
            .collect()
    }

    /// Deletes an object (background propagation); false when absent.
    pub async fn delete(
        &self,
        namespace: Option<&str>,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, Error> {
        let api = self.api(namespace, api_version, kind).await?;
        match api
            .delete(path_segment(name)?, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match Error::from(e) {
                e if e.is_not_found() => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Deletes the object with this `uid` (background propagation): the
    /// caller checked that object's ownership, and the precondition makes
    /// sure a replacement created since then is not deleted in its place.
    /// False when absent; `Conflict` when the name now holds another object.
    pub async fn delete_uid(
        &self,
        namespace: Option<&str>,
        api_version: &str,
        kind: &str,
        name: &str,
        uid: &str,
    ) -> Result<bool, Error> {
        let api = self.api(namespace, api_version, kind).await?;
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match api.delete(path_segment(name)?, &params).await {
            Ok(_) => Ok(true),
            Err(e) => match Error::from(e) {
                e if e.is_not_found() => Ok(false),
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_their_path_segment_are_refused() {
        for bad in ["", ".", "..", "a/b", "../../secrets/x", "a%2Fb"] {
            assert!(path_segment(bad).is_err(), "{bad:?}");
        }
        for good in ["web", "store-shop", "web.v1", "system:controller"] {
            assert_eq!(path_segment(good).ok(), Some(good));
        }
    }
}
