//! Request validation shared by every adapter. The name rules themselves
//! live in `storeplane-rules`, which the dashboard builds too.

use uuid::Uuid;

use super::{FieldViolation, StoreRef};

/// The name rules the dashboard checks too, from the one crate both build.
pub use storeplane_rules::{MAX_CUSTOM_DOMAINS, NAME_MAX_LEN, NAME_MIN_LEN, REQUEST_ID_MAX_LEN};
/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page served; larger requests are clamped (AIP-158).
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Checks a store name: an RFC 1035 label (lowercase letters, digits and
/// '-', starting with a letter, ending with a letter or digit) of
/// [`NAME_MIN_LEN`]..=[`NAME_MAX_LEN`] characters. Returns why it is not.
pub fn store_name(name: &str) -> Result<(), String> {
    storeplane_rules::store_name(name).map_err(|e| e.to_string())
}

/// Resolves a tenant reference, `tenants/<id>` or `<id>`; ids follow the
/// store-name rules (they appear in labels and log lines).
pub fn tenant_ref(value: &str) -> Result<super::TenantId, String> {
    storeplane_rules::tenant_id(value)
        .map(|id| super::TenantId(id.to_owned()))
        .map_err(|e| e.to_string())
}

/// Checks an idempotency key: printable ASCII, at most [`REQUEST_ID_MAX_LEN`].
pub fn request_id(id: &str) -> Result<(), String> {
    storeplane_rules::request_id(id).map_err(|e| e.to_string())
}

/// Checks a store's custom domains with the rules of `storeplane-rules`
/// (each a host name outside the platform's domain, none twice, at most
/// [`MAX_CUSTOM_DOMAINS`]). Violations name `field` or `field[i]`.
pub fn custom_domains(
    domains: &[String],
    platform_domain: &str,
    field: &str,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if let Err(why) = storeplane_rules::custom_domain_count(domains.len()) {
        violations.push(FieldViolation::new(field, why.to_string()));
    }
    for (i, domain) in domains.iter().enumerate() {
        if let Err(why) = storeplane_rules::listed_custom_domain(domains, i, platform_domain) {
            violations.push(FieldViolation::new(
                format!("{field}[{i}]"),
                format!("{domain:?} {why}"),
            ));
        }
    }
    violations
}

/// Resolves a page size: 0 means the default, larger than the maximum is clamped.
pub fn page_size(size: i32, field: &str) -> Result<u64, FieldViolation> {
    match u64::try_from(size) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
        Err(_) => Err(FieldViolation::new(field, "must not be negative")),
    }
}

/// Resolves the `id` / `name` pair that identifies a store: exactly one.
pub fn store_ref(id: &str, name: &str) -> Result<StoreRef, Vec<FieldViolation>> {
    match (id.is_empty(), name.is_empty()) {
        (true, true) => Err(vec![
            FieldViolation::new("id", "set either id or name"),
            FieldViolation::new("name", "set either id or name"),
        ]),
        (false, false) => Err(vec![FieldViolation::new(
            "name",
            "set either id or name, not both",
        )]),
        (false, true) => Uuid::parse_str(id).map(StoreRef::Id).map_err(|_| {
            vec![FieldViolation::new(
                "id",
                format!("{id:?} is not a store id (a UUID)"),
            )]
        }),
        (true, false) => store_name(name)
            .map(|()| StoreRef::Name(name.to_owned()))
            .map_err(|why| vec![FieldViolation::new("name", why)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_name_accepts_dns_labels_within_bounds() {
        for ok in ["abc", "my-shop", "shop-2", "a1b", &"a".repeat(NAME_MAX_LEN)] {
            assert_eq!(store_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn store_name_rejects_everything_else_with_a_reason() {
        let cases = [
            ("", "required"),
            ("ab", "3 to 40"),
            (&"a".repeat(NAME_MAX_LEN + 1), "3 to 40"),
            ("My-Shop", "lowercase"),
            ("shop_1", "'_'"),
            ("shop.eu", "'.'"),
            ("1shop", "start with a lowercase letter"),
            ("-shop", "start with a lowercase letter"),
            ("shop-", "end with a letter or digit"),
            ("shöp", "'ö'"),
        ];
        for (name, why) in cases {
            let err = store_name(name).expect_err(name);
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn longest_name_keeps_namespace_a_valid_label() {
        assert!(super::super::namespace_for(&"a".repeat(NAME_MAX_LEN)).len() <= 63);
    }

    #[test]
    fn page_size_defaults_clamps_and_rejects_negative() {
        assert_eq!(page_size(0, "page_size"), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(7, "page_size"), Ok(7));
        assert_eq!(page_size(5000, "page_size"), Ok(MAX_PAGE_SIZE));
        assert!(page_size(-1, "page_size").is_err());
    }

    #[test]
    fn store_ref_requires_exactly_one_valid_identifier() {
        assert!(store_ref("", "").is_err());
        assert!(store_ref("x", "shop").is_err());
        assert!(store_ref("not-a-uuid", "").is_err());
        assert_eq!(
            store_ref("", "my-shop"),
            Ok(StoreRef::Name("my-shop".into()))
        );
        let id = Uuid::now_v7();
        assert_eq!(store_ref(&id.to_string(), ""), Ok(StoreRef::Id(id)));
    }

    #[test]
    fn tenant_ref_accepts_resource_names_and_bare_ids() {
        assert_eq!(tenant_ref("tenants/acme").map(|t| t.0), Ok("acme".into()));
        assert_eq!(tenant_ref("acme").map(|t| t.0), Ok("acme".into()));
        assert!(tenant_ref("tenants/").is_err());
        assert!(tenant_ref("Acme Corp").is_err());
    }

    #[test]
    fn request_id_rejects_spaces_and_overlong_keys() {
        assert!(request_id("8d9b7c1e-4a52-4c3e-9f1a-2b7d6e5f4a3c").is_ok());
        assert!(request_id("has space").is_err());
        assert!(request_id(&"x".repeat(REQUEST_ID_MAX_LEN + 1)).is_err());
    }
}
