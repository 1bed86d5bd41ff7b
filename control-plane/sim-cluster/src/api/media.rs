//! Content types of request bodies, negotiated as the apiserver does.
//!
//! Create, update and delete bodies go through the apiserver's input
//! negotiation: JSON (also when no Content-Type is sent), YAML, or the
//! Kubernetes protobuf envelope; anything else is `415` with the list of
//! accepted types. PATCH bodies must carry one of the four patch types; the
//! apiserver's router refuses any other with a generic `415`.
//!
//! Browsers can send `text/plain` cross-site without a preflight, so
//! refusing it is also what keeps a web page from creating objects here.

use serde_json::Value;

use crate::status::ApiError;
use crate::store::PatchKind;

/// What a create, update or delete body may be, in the order the apiserver
/// lists them for built-in kinds (CBOR is off by default in 1.37).
pub(crate) const BODY_TYPES: [&str; 3] = ["application/json", "application/yaml", PROTOBUF];

/// The Kubernetes protobuf media type (`k8s\0` envelope).
pub(crate) const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The largest body the apiserver reads (its `MaxRequestBodyBytes`
/// default, 3 MiB).
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The media type of a Content-Type header: parameters dropped, lower case.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a create, update or delete body.
pub(crate) fn decode_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    match media_type(content_type).as_str() {
        // No Content-Type: the apiserver takes its first serializer, JSON.
        "" | "application/json" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}"))),
        "application/yaml" => yaml(body),
        PROTOBUF => crate::protobuf::decode(body),
        _ => Err(ApiError::unsupported_body_format()),
    }
}

/// The patch format of a PATCH request's Content-Type.
pub(crate) fn patch_kind(content_type: &str, force: bool) -> Result<PatchKind, ApiError> {
    match media_type(content_type).as_str() {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply { force }),
        _ => Err(ApiError::unsupported_patch_type()),
    }
}

/// Decodes a PATCH body: JSON for the JSON-based patch types, YAML (a
/// superset of JSON) for apply patches.
pub(crate) fn decode_patch(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Apply { .. } => yaml(body),
        PatchKind::Merge | PatchKind::Strategic | PatchKind::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}"))),
    }
}

fn yaml(body: &[u8]) -> Result<Value, ApiError> {
    // JSON first: it is what clients send almost always, and faster.
    serde_json::from_slice(body).or_else(|json_error| {
        serde_saphyr::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("error decoding YAML: {e}; as JSON: {json_error}"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_without_a_content_type_are_json() {
        assert_eq!(decode_body("", br#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(
            decode_body("application/json; charset=utf-8", br#"{"a":1}"#).unwrap()["a"],
            1
        );
        assert_eq!(decode_body("application/yaml", b"a: 1").unwrap()["a"], 1);
    }

    #[test]
    fn text_plain_is_an_unknown_format() {
        let err = decode_body("text/plain", br#"{"a":1}"#).unwrap_err();
        assert_eq!(err.code, 415);
        assert_eq!(
            err.message,
            "the body of the request was in an unknown format - accepted media types include: \
             application/json, application/yaml, application/vnd.kubernetes.protobuf"
        );
    }

    #[test]
    fn patches_need_a_patch_content_type() {
        assert_eq!(
            patch_kind("application/merge-patch+json", false).unwrap(),
            PatchKind::Merge
        );
        for bad in ["", "application/json", "text/plain"] {
            let err = patch_kind(bad, false).unwrap_err();
            assert_eq!(
                (err.code, err.message.as_str()),
                (415, "415: Unsupported Media Type")
            );
        }
    }
}
