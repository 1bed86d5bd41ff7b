//! Checks for [`Engine::validate`](crate::Engine::validate) that a JSON
//! Schema cannot express, shared so that every engine applies the same rule
//! to the same kind of field.

/// Longest e-mail address, in characters (RFC 5321's path limit). Use it as
/// the schema's `maxLength` too, so the schema and [`is_email`] agree.
pub const MAX_EMAIL_CHARS: usize = 254;

/// Whether `text` is an e-mail address: exactly one `@` between a
/// non-empty local part and a domain of at least two non-empty
/// dot-separated labels, at most [`MAX_EMAIL_CHARS`] characters, and
/// nowhere a space or a control character.
///
/// Pragmatic rather than RFC 5322: no quoted local parts or comments, and a
/// dotless domain (`owner@localhost`) is refused because a shop's owner
/// needs a deliverable address. `o'brien@example.com` is an address (as
/// WordPress's own `is_email` says); an engine whose application refuses
/// some characters in a login says so on top of this rule (Medusa does).
/// Non-ASCII letters are accepted (internationalised addresses). A leading
/// `-` is not checked here: see [`looks_like_an_option`].
///
/// ```
/// use storeplane_plugin_sdk::validate::is_email;
///
/// assert!(is_email("first.last+shop@mail.example.com"));
/// assert!(is_email("o'brien@example.com"));
/// assert!(!is_email("owner@localhost"));
/// ```
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let clean = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '@')
    };
    clean(local)
        && clean(domain)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && text.chars().count() <= MAX_EMAIL_CHARS
}

/// Whether a free-text value starts (after spaces) with `-`. A command-line
/// tool could read such a value as an option (WP-CLI takes `--exec=<php>`
/// anywhere). Engines pass tenant text only through the environment, never
/// as an argument; refusing these values is the second line of defence, and
/// every engine applies it to every free-text field so that no tenant text
/// can ever be taken for an option.
pub fn looks_like_an_option(text: &str) -> bool {
    text.trim_start().starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_emails() {
        // The WooCommerce and Medusa engines' former cases, and the edges.
        let longest = format!("{}@example.com", "a".repeat(MAX_EMAIL_CHARS - 12));
        for ok in [
            "a@b.co",
            "first.last+shop@mail.example.com",
            "owner@example.com",
            "a-b@c.co",
            "--invite@example.com",
            "jürgen@bücher.de",
            &longest,
        ] {
            assert!(is_email(ok), "{ok:?}");
        }
    }

    #[test]
    fn malformed_addresses_are_not_emails() {
        let too_long = format!("{}@example.com", "a".repeat(MAX_EMAIL_CHARS - 11));
        for bad in [
            "",
            "owner",
            "nope",
            "@example.com",
            "a@",
            "a@b",
            "a@b..c",
            "a@.b.co",
            "a@b.co.",
            "a b@c.d",
            "a@b@c.d",
            "a\tb@c.d",
            "a@b.co\n",
            "a\u{7}@b.co",
            &too_long,
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn quotes_are_part_of_an_address() {
        for ok in ["o'brien@example.com", "a\"b@c.d", "a\\b@c.d"] {
            assert!(is_email(ok), "{ok:?}");
        }
    }

    #[test]
    fn values_starting_with_a_dash_look_like_options() {
        for option in ["-x", "--exec=phpinfo();", " -p@example.com", "\t--a"] {
            assert!(looks_like_an_option(option), "{option:?}");
        }
        for text in ["", "Shop - Coffee & Tea", "a-b@c.co", "x-"] {
            assert!(!looks_like_an_option(text), "{text:?}");
        }
    }
}
