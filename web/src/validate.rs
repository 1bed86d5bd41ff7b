//! Client-side checks, so a mistake shows while typing instead of after a
//! round trip. The server stays the authority: these only decide what to
//! say early.
//!
//! The store-name rule is the server's own code (`storeplane-rules`), so
//! the two cannot drift apart and the message under the field is the one
//! the server would send.

pub use storeplane_rules::{NAME_MAX_LEN, NAME_MIN_LEN, NameError, store_name};

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
