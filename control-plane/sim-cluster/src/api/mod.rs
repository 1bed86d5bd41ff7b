//! The HTTP API: routes Kubernetes REST paths to the store, in-process (for
//! `kube::Client`) and over TCP (for kubectl) alike.

pub(crate) mod discovery;
pub(crate) mod media;
mod openapi;
mod review;
pub(crate) mod table;
mod watch;

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::config::SimConfig;
use crate::meta;
use crate::registry::ResId;
use crate::selector::{FieldSelector, Filter, LabelSelector};
use crate::status::{ApiError, success_status};
use crate::store::{DeleteOutcome, PatchKind, Store, WatchStart, WriteCtx, decode_continue, parse};
use table::{IncludeObject, table};

/// The body of every response: a full JSON document or a watch stream.
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// What request handling needs from the cluster.
pub(crate) struct ApiContext {
    pub store: Arc<Store>,
    pub config: SimConfig,
}

/// Handles one request whose body has been read.
pub(crate) fn handle(ctx: &ApiContext, req: Request<Bytes>) -> Response<ResponseBody> {
    let (parts, body) = req.into_parts();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let request = ApiRequest {
        method: &parts.method,
        headers: &parts.headers,
        query: &query,
        body: &body,
        warnings: RefCell::default(),
    };
    let path = parts.uri.path();
    tracing::debug!(method = %parts.method, %path, "sim-cluster request");
    let mut response = match route(ctx, &request, path) {
        Ok(response) => response,
        Err(error) if error.plain_text => text_response(error.code, error.message),
        Err(error) => json_response(error.code, &error.to_status()),
    };
    for warning in request.warnings.take() {
        if let Ok(value) = header::HeaderValue::from_bytes(warning_header(&warning).as_bytes()) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// A `Warning` header value as the apiserver writes it: code 299, no agent,
/// the text quoted with `"` and `\` escaped.
fn warning_header(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 10);
    quoted.push_str("299 - \"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

struct ApiRequest<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a HashMap<String, String>,
    body: &'a Bytes,
    /// Admission warnings, sent back as `Warning` headers.
    warnings: RefCell<Vec<String>>,
}

impl ApiRequest<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn wants_table(&self) -> Option<IncludeObject> {
        self.header(header::ACCEPT)
            .contains("as=Table")
            .then(|| IncludeObject::parse(self.param("includeObject")))
    }

    /// The field manager: `fieldManager`, else the User-Agent's product name,
    /// as the apiserver derives it.
    fn manager(&self) -> String {
        if let Some(m) = self.param("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_owned();
        }
        let agent = self.header(header::USER_AGENT);
        let product = agent.split('/').next().unwrap_or("").trim();
        if product.is_empty() {
            "unknown".to_owned()
        } else {
            product.to_owned()
        }
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    /// How this request writes: its field manager, dry run, warnings.
    fn write_ctx<'m>(&'m self, manager: &'m str) -> WriteCtx<'m> {
        WriteCtx {
            manager,
            dry_run: self.dry_run(),
            warnings: Some(&self.warnings),
        }
    }

    fn content_type(&self) -> &str {
        self.header(header::CONTENT_TYPE)
    }

    /// The body of a create or update, in whichever format it came.
    fn body_value(&self) -> Result<Value, ApiError> {
        media::decode_body(self.content_type(), self.body)
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(Filter {
            labels: LabelSelector::parse(self.param("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.param("fieldSelector").unwrap_or(""))?,
        })
    }
}

pub(crate) fn json_bytes(code: u16, bytes: Vec<u8>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed_unsync());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn json_response(code: u16, value: &Value) -> Response<ResponseBody> {
    json_bytes(code, serde_json::to_vec(value).unwrap_or_default())
}

fn text_response(code: u16, text: String) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed_unsync());
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A resolved resource path.
struct Target {
    res: ResId,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn route(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    path: &str,
) -> Result<Response<ResponseBody>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let registry = ctx.store.registry();
    let get_only = |value: Value| {
        if req.method == Method::GET {
            Ok(json_response(200, &value))
        } else {
            Err(ApiError::method_not_allowed(format!(
                "{} is not allowed on {path}",
                req.method
            )))
        }
    };
    match segments.as_slice() {
        [] => get_only(discovery::root_paths(registry)),
        ["version"] => get_only(discovery::version()),
        ["healthz" | "livez" | "readyz", ..] => Ok(text_response(200, "ok".to_owned())),
        ["api"] => get_only(discovery::core_versions(req.header(header::HOST))),
        ["apis"] => get_only(discovery::group_list(registry)),
        ["apis", group] => {
            discovery::group(registry, group).map_or_else(|| Err(ApiError::no_route()), get_only)
        }
        ["openapi", "v3"] => get_only(openapi::index_document(registry)),
        ["openapi", "v3", "api", version] => openapi_document(req, registry, "", version),
        ["openapi", "v3", "apis", group, version] => {
            openapi_document(req, registry, group, version)
        }
        ["api", "v1", rest @ ..] => resource(ctx, req, path, "", "v1", rest),
        ["apis", group, version, rest @ ..] => resource(ctx, req, path, group, version, rest),
        _ => Err(ApiError::no_route()),
    }
}

fn openapi_document(
    req: &ApiRequest<'_>,
    registry: &crate::registry::Registry,
    group: &str,
    version: &str,
) -> Result<Response<ResponseBody>, ApiError> {
    if req.method != Method::GET {
        return Err(ApiError::method_not_allowed_generic());
    }
    openapi::group_version(registry, group, version)
        .map(|text| json_bytes(200, text))
        .ok_or_else(ApiError::no_route)
}

fn resource(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    path: &str,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<ResponseBody>, ApiError> {
    let registry = ctx.store.registry();
    if !registry.has_group_version(group, version) {
        // A known group answers for its unknown versions; an unknown group
        // is no route at all.
        return Err(
            if group.is_empty() || discovery::group(registry, group).is_some() {
                ApiError::resource_not_found()
            } else {
                ApiError::no_route()
            },
        );
    }
    let owned = |s: &&str| (*s).to_owned();
    let (plural, namespace, name, subresource) = match rest {
        [] => {
            return if req.method == Method::GET {
                Ok(json_response(
                    200,
                    &discovery::resource_list(registry, group, version),
                ))
            } else {
                Err(ApiError::method_not_allowed(format!(
                    "{} is not allowed on {path}",
                    req.method
                )))
            };
        }
        [plural] => (*plural, None, None, None),
        [plural, name] => (*plural, None, Some(owned(name)), None),
        ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
            ("namespaces", None, Some(owned(name)), Some(owned(sub)))
        }
        ["namespaces", ns, plural] => (*plural, Some(owned(ns)), None, None),
        ["namespaces", ns, plural, name] => (*plural, Some(owned(ns)), Some(owned(name)), None),
        ["namespaces", ns, plural, name, sub] => (
            *plural,
            Some(owned(ns)),
            Some(owned(name)),
            Some(owned(sub)),
        ),
        [plural, name, sub] => (*plural, None, Some(owned(name)), Some(owned(sub))),
        _ => return Err(ApiError::resource_not_found()),
    };
    let res = registry
        .lookup(group, version, plural)
        .ok_or_else(ApiError::resource_not_found)?;
    let info = ctx.store.info(res);
    if !info.namespaced && namespace.is_some() {
        return Err(ApiError::resource_not_found());
    }
    if info.namespaced && namespace.is_none() && name.is_some() {
        return Err(ApiError::resource_not_found());
    }
    if info.create_only {
        // Reviews: POST to the collection answers; nothing else exists.
        if req.method != Method::POST || name.is_some() {
            return Err(ApiError::method_not_allowed_generic());
        }
        let body = req.body_value()?;
        let mut answer = review::answer(info, &body, &req.manager());
        if let Some(ns) = &namespace
            && info.namespaced
        {
            answer["metadata"]["namespace"] = json!(ns);
        }
        return Ok(json_response(201, &answer));
    }
    let target = Target {
        res,
        namespace,
        name,
        subresource,
    };
    match (&target.name, req.method) {
        (None, &Method::GET) if req.flag("watch") => watch(ctx, req, &target),
        (None, &Method::GET) => list(ctx, req, &target),
        (None, &Method::POST) => create(ctx, req, &target),
        (None, &Method::DELETE) => delete_collection(ctx, req, &target),
        (Some(name), method) => object(ctx, req, &target, name, method),
        (None, method) => Err(ApiError::method_not_allowed(format!(
            "{method} is not allowed on a collection"
        ))),
    }
}

/// A list's metadata. `remaining` is `None` when the count is not known
/// cheaply: the apiserver counts what is left only for lists without a
/// label or field selector.
fn list_metadata(rv: u64, continue_token: Option<&str>, remaining: Option<usize>) -> Value {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
        if let Some(remaining) = remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    metadata
}

fn list(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
) -> Result<Response<ResponseBody>, ApiError> {
    let filter = req.filter()?;
    let limit = match req.param("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
        None => None,
    };
    let after = match req.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let page = ctx.store.list(
        target.res,
        target.namespace.as_deref(),
        &filter,
        limit,
        after.as_ref(),
    );
    let info = ctx.store.info(target.res);
    let metadata = list_metadata(
        page.resource_version,
        page.continue_token.as_deref(),
        filter.is_empty().then_some(page.remaining),
    );
    if let Some(include) = req.wants_table() {
        let items: Vec<Arc<Value>> = page
            .items
            .iter()
            .map(|json| Arc::new(parse(json)))
            .collect();
        return Ok(json_response(200, &table(info, &items, include, metadata)));
    }
    // Written by hand so the items' stored JSON is copied as it is.
    let mut out = Vec::with_capacity(256 + page.items.len() * 1024);
    let head = json!({ "kind": format!("{}List", info.kind), "apiVersion": info.api_version, "metadata": metadata });
    let head = serde_json::to_string(&head).map_err(|e| ApiError::internal(e.to_string()))?;
    out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    Ok(json_bytes(200, out))
}

fn watch(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
) -> Result<Response<ResponseBody>, ApiError> {
    let filter = req.filter()?;
    let send_initial = req.param("sendInitialEvents");
    let start = match req
        .param("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0")
    {
        Some(rv) => WatchStart::After(
            rv.parse()
                .map_err(|_| ApiError::unparsable_resource_version(rv))?,
        ),
        None if send_initial == Some("false") => WatchStart::After(ctx.store.resource_version()),
        None => WatchStart::Now,
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let params = watch::WatchParams {
        start,
        bookmarks: req.flag("allowWatchBookmarks"),
        initial_events_end: send_initial == Some("true"),
        timeout,
        bookmark_interval: ctx.config.bookmark_interval,
        table: req.wants_table(),
    };
    watch::watch(
        &ctx.store,
        target.res,
        target.namespace.clone(),
        filter,
        params,
    )
}

fn create(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
) -> Result<Response<ResponseBody>, ApiError> {
    let body = req.body_value()?;
    let manager = req.manager();
    let write = req.write_ctx(&manager);
    let created = ctx
        .store
        .create(target.res, target.namespace.as_deref(), body, write)?;
    Ok(json_response(201, &created))
}

fn delete_options(req: &ApiRequest<'_>) -> Result<crate::store::DeleteOpts, ApiError> {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        req.body_value()?
    };
    let text = |path: &str| {
        body.pointer(path)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let propagation = req
        .param("propagationPolicy")
        .map(str::to_owned)
        .or_else(|| text("/propagationPolicy"));
    let dry_run_body = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(crate::store::DeleteOpts {
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
        dry_run: req.dry_run() || dry_run_body,
        orphan: propagation.as_deref() == Some("Orphan")
            || body.get("orphanDependents") == Some(&json!(true)),
    })
}

fn delete_collection(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
) -> Result<Response<ResponseBody>, ApiError> {
    let filter = req.filter()?;
    let deleted = ctx.store.delete_collection(
        target.res,
        target.namespace.as_deref(),
        &filter,
        &delete_options(req)?,
    );
    let info = ctx.store.info(target.res);
    let items: Vec<&Value> = deleted.iter().map(|o| &**o).collect();
    Ok(json_response(
        200,
        &json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": info.api_version,
            "metadata": { "resourceVersion": ctx.store.resource_version().to_string() },
            "items": items,
        }),
    ))
}

fn object(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
    name: &str,
    method: &Method,
) -> Result<Response<ResponseBody>, ApiError> {
    let store = &ctx.store;
    let info = store.info(target.res);
    let ns = target.namespace.as_deref().unwrap_or("");
    let sub = target.subresource.as_deref();
    match sub {
        None => {}
        Some("status") if info.has_status => {}
        Some("finalize") if info.group.is_empty() && info.plural == "namespaces" => {}
        Some("scale") if info.has_scale() => return scale(ctx, req, target, name, method),
        Some("log") if info.group.is_empty() && info.plural == "pods" => {
            store.get(target.res, ns, name)?;
            return Ok(text_response(
                200,
                format!(
                    "storeplane sim-cluster: pod {ns}/{name} is simulated; no container runs, so there are no logs.\n"
                ),
            ));
        }
        Some(_) => return Err(ApiError::resource_not_found()),
    }
    let manager = req.manager();
    let write = req.write_ctx(&manager);
    match *method {
        Method::GET => {
            let obj = store.get(target.res, ns, name)?;
            if let Some(include) = req.wants_table() {
                let metadata = json!({ "resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null) });
                return Ok(json_response(200, &table(info, &[obj], include, metadata)));
            }
            Ok(json_response(200, &obj))
        }
        Method::PUT => {
            let updated = store.update(target.res, ns, name, req.body_value()?, sub, write)?;
            Ok(json_response(200, &updated))
        }
        Method::PATCH => {
            let kind = media::patch_kind(req.content_type(), req.flag("force"))?;
            if matches!(kind, PatchKind::Apply { .. })
                && req.param("fieldManager").is_none_or(str::is_empty)
            {
                return Err(ApiError::invalid(
                    "PatchOptions.meta.k8s.io",
                    "",
                    &[(
                        "fieldManager",
                        "Required value: is required for apply patch".to_owned(),
                    )],
                ));
            }
            let body = media::decode_patch(kind, req.body)?;
            let existed =
                matches!(kind, PatchKind::Apply { .. }) && store.get(target.res, ns, name).is_ok();
            let patched = store.patch(target.res, ns, name, kind, &body, sub, write)?;
            let created = matches!(kind, PatchKind::Apply { .. }) && !existed;
            Ok(json_response(if created { 201 } else { 200 }, &patched))
        }
        Method::DELETE => match store.delete(target.res, ns, name, &delete_options(req)?)? {
            DeleteOutcome::Deleted(obj) => Ok(json_response(
                200,
                &success_status(info, name, meta::uid(&obj)),
            )),
            DeleteOutcome::Pending(obj) => Ok(json_response(200, &obj)),
        },
        _ => Err(ApiError::method_not_allowed(format!(
            "{method} is not allowed on {}",
            info.plural
        ))),
    }
}

/// The `/scale` subresource (autoscaling/v1 Scale) over `spec.replicas`.
fn scale(
    ctx: &ApiContext,
    req: &ApiRequest<'_>,
    target: &Target,
    name: &str,
    method: &Method,
) -> Result<Response<ResponseBody>, ApiError> {
    let store = &ctx.store;
    let ns = target.namespace.as_deref().unwrap_or("");
    let current = store.get(target.res, ns, name)?;
    let to_scale = |obj: &Value| {
        let selector = obj
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
                "creationTimestamp": metadata.get("creationTimestamp"),
            },
            "spec": { "replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0)) },
            "status": {
                "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                "selector": selector,
            },
        })
    };
    let mut scale_obj = to_scale(&current);
    let patch = match *method {
        Method::PATCH => Some(media::patch_kind(req.content_type(), false)?),
        _ => None,
    };
    let body = match (method, patch) {
        (&Method::GET, _) => return Ok(json_response(200, &scale_obj)),
        (&Method::PATCH, Some(kind)) => media::decode_patch(kind, req.body)?,
        (&Method::PUT, _) => req.body_value()?,
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not allowed on scale"
            )));
        }
    };
    match patch {
        None => scale_obj = body,
        Some(PatchKind::Json) => crate::patch::json_patch(&mut scale_obj, &body)?,
        Some(_) => crate::patch::merge_patch(&mut scale_obj, &body),
    }
    let replicas = scale_obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("spec.replicas is required"))?;
    let manager = req.manager();
    let updated = store
        .modify(target.res, ns, name, None, req.write_ctx(&manager), |obj| {
            let mut new = obj.clone();
            meta::object_mut(&mut new, "spec").insert("replicas".to_owned(), json!(replicas));
            Some(new)
        })?
        .unwrap_or(current);
    Ok(json_response(200, &to_scale(&updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_decoded() {
        let q = parse_query("labelSelector=env%20in%20%28a%2Cb%29&watch=1&x=a+b");
        assert_eq!(q["labelSelector"], "env in (a,b)");
        assert_eq!(q["watch"], "1");
        assert_eq!(q["x"], "a b");
    }
}
