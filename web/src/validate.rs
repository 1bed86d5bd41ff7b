//! Client-side checks that mirror the server's, so a mistake shows while
//! typing instead of after a round trip. The server stays the authority:
//! these only decide what to say early.

/// Shortest store name (the server's `NAME_MIN_LEN`).
pub const NAME_MIN_LEN: usize = 3;
/// Longest store name (the server's `NAME_MAX_LEN`): `store-<name>` must
/// stay a valid namespace and leave room for chart suffixes.
pub const NAME_MAX_LEN: usize = 40;

/// Checks a store name exactly as `control-plane/src/domain/validate.rs`
/// does: an RFC 1035 label of [`NAME_MIN_LEN`]..=[`NAME_MAX_LEN`]
/// lowercase letters, digits and '-', starting with a letter and ending
/// with a letter or digit. Returns why it is not one; the wording matches
/// the server's so both sources read alike next to the field.
pub fn store_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if len == 0 {
        return Err("is required".into());
    }
    if !(NAME_MIN_LEN..=NAME_MAX_LEN).contains(&len) {
        return Err(format!(
            "must be {NAME_MIN_LEN} to {NAME_MAX_LEN} characters long (got {len})"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "may contain only lowercase letters, digits and '-' (found {bad:?})"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if name.ends_with('-') {
        return Err("must end with a letter or digit".into());
    }
    Ok(())
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

    // The same cases as the server's `validate.rs` tests, so the two
    // validators cannot drift apart unnoticed.
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
            let Err(err) = store_name(name) else {
                panic!("{name:?} was accepted");
            };
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn store_name_counts_characters_not_bytes() {
        // 'ö' is two bytes; the length message must count it once, as the
        // server does, before complaining about the character itself.
        assert!(store_name("öö").is_err_and(|e| e.contains("got 2")));
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
