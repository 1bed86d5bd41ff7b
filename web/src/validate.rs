//! Client-side checks, so a mistake shows while typing instead of after a
//! round trip. The server stays the authority: these only decide what to
//! say early.
//!
//! The store-name and custom-domain rules are the server's own code
//! (`storeplane-rules`), so the two cannot drift apart and the message
//! under the field is the one the server would send.

use std::collections::BTreeMap;

pub use storeplane_rules::{MAX_CUSTOM_DOMAINS, NAME_MAX_LEN, NAME_MIN_LEN, NameError, store_name};

/// The field the API names custom domains by (`custom_domains[i]` for one).
pub const DOMAINS_FIELD: &str = "custom_domains";

/// A domain as a person typed it, the way the API takes it: blanks around
/// it dropped and letters lowercased (DNS names ignore case, and the rule
/// wants lowercase, so `Shop.Example.com` is no mistake worth a message).
pub fn normalize_domain(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// One custom domain, with the server's message when it is refused
/// (`"<domain>" <why>`). `platform_domain` is the server's base domain
/// (`ServerInfo.base_domain`); empty skips that part of the rule.
pub fn custom_domain(domain: &str, platform_domain: &str) -> Result<(), String> {
    storeplane_rules::custom_domain(domain, platform_domain)
        .map_err(|why| format!("{domain:?} {why}"))
}

/// Every problem with a store's whole list of custom domains, keyed like
/// the server's field violations (`custom_domains`, `custom_domains[i]`)
/// and worded like them, by the same rules (`storeplane-rules`): the
/// domain rule, duplicates, the maximum.
pub fn custom_domains(domains: &[String], platform_domain: &str) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    if let Err(why) = storeplane_rules::custom_domain_count(domains.len()) {
        errors.insert(DOMAINS_FIELD.to_owned(), why.to_string());
    }
    for (i, domain) in domains.iter().enumerate() {
        if let Err(why) = storeplane_rules::listed_custom_domain(domains, i, platform_domain) {
            errors.insert(format!("{DOMAINS_FIELD}[{i}]"), format!("{domain:?} {why}"));
        }
    }
    errors
}

/// A plausible e-mail address: one '@' between a non-empty local part and a
/// dotted domain, no spaces. Deliberately looser than the server's format
/// check, so the client never refuses an address the server would take.
pub fn email(value: &str) -> Result<(), String> {
    let plausible = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !value.chars().any(char::is_whitespace);
    if plausible {
        Ok(())
    } else {
        Err("must be an e-mail address, like name@example.com".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_name_says_what_the_server_says() {
        // The rule's own cases live in storeplane-rules; this checks only
        // that the dashboard shows its wording.
        assert_eq!(store_name("my-shop"), Ok(()));
        assert_eq!(
            store_name("ab").map_err(|e| e.to_string()),
            Err("must be 3 to 40 characters long (got 2)".to_owned())
        );
    }

    #[test]
    fn custom_domain_says_what_the_server_says() {
        // The server words a refused domain as `"<domain>" <rule's reason>`
        // (control-plane/domain/src/validate.rs).
        assert_eq!(custom_domain("shop.example.com", "shops.example"), Ok(()));
        assert_eq!(
            custom_domain("shop", ""),
            Err("\"shop\" must be a full domain name such as shop.example.com".to_owned())
        );
        assert_eq!(
            custom_domain("a.shops.example", "shops.example"),
            Err("\"a.shops.example\" is under the platform's own domain, whose names belong to its stores".to_owned())
        );
        assert_eq!(
            normalize_domain("  Shop.Example.COM \n"),
            "shop.example.com"
        );
    }

    #[test]
    fn a_domain_list_is_checked_for_duplicates_and_its_length_by_index() {
        let list: Vec<String> = ["a.example", "bad_one.example", "a.example"]
            .map(String::from)
            .to_vec();
        let errors = custom_domains(&list, "");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["custom_domains[1]", "custom_domains[2]"]
        );
        assert_eq!(errors["custom_domains[2]"], "\"a.example\" is listed twice");
        let many: Vec<String> = (0..=MAX_CUSTOM_DOMAINS)
            .map(|i| format!("s{i}.example"))
            .collect();
        assert_eq!(
            custom_domains(&many, "")
                .get(DOMAINS_FIELD)
                .map(String::as_str),
            Some("at most 10 custom domains per store (got 11)")
        );
    }

    #[test]
    fn email_accepts_ordinary_addresses_and_rejects_obvious_mistakes() {
        for ok in ["me@example.com", "a.b+c@shop.example", "x@localhost"] {
            assert_eq!(email(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "me",
            "me@",
            "@example.com",
            "me@@x.com",
            "me @x.com",
            "me@x.",
        ] {
            assert!(email(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
