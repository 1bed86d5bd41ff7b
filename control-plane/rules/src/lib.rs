//! storeplane's naming rules, written once: the control plane enforces them
//! and the dashboard checks them while the user types, so both must say the
//! same thing about the same input.
//!
//! Each check returns a small error whose `Display` text is the message the
//! API puts in its field violation; the dashboard shows that same text next
//! to the field. The crate has no dependencies and needs no allocator
//! (`no_std`), so the browser build (`wasm32-unknown-unknown`) takes it as it
//! is.
//!
//! ```
//! use storeplane_rules::{NameError, store_name, tenant_id};
//!
//! assert_eq!(store_name("my-shop"), Ok(()));
//! assert_eq!(store_name("shop-"), Err(NameError::End));
//! assert_eq!(
//!     store_name("My-Shop").unwrap_err().to_string(),
//!     "may contain only lowercase letters, digits and '-' (found 'M')"
//! );
//! assert_eq!(tenant_id("tenants/acme"), Ok("acme"));
//! ```

// Tests use `std` (formatting to `String`); the library itself needs only `core`.
#![cfg_attr(not(test), no_std)]

use core::fmt;

/// Shortest store name, in characters.
pub const NAME_MIN_LEN: usize = 3;
/// Longest store name, in characters. `store-<name>` must stay a valid
/// namespace (63), and charts derive object names such as
/// `<name>-mysql-headless` from it, so the bound leaves room for their
/// suffixes.
pub const NAME_MAX_LEN: usize = 40;
/// Longest idempotency key (request id).
pub const REQUEST_ID_MAX_LEN: usize = 128;
/// The prefix of a tenant's resource name, `tenants/<id>`.
pub const TENANT_PREFIX: &str = "tenants/";

/// Why a text is not a valid store name (or tenant id). `Display` gives the
/// API's wording; the checks run in the order of the variants, so a name
/// breaking several rules reports the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// Fewer than [`NAME_MIN_LEN`] or more than [`NAME_MAX_LEN`] characters.
    Length {
        /// How many characters (not bytes) the name has.
        chars: usize,
    },
    /// The first character that is not a lowercase ASCII letter, an ASCII
    /// digit or `-`.
    Character(char),
    /// The name starts with a digit or `-`.
    Start,
    /// The name ends with `-`.
    End,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is required"),
            Self::Length { chars } => write!(
                f,
                "must be {NAME_MIN_LEN} to {NAME_MAX_LEN} characters long (got {chars})"
            ),
            Self::Character(c) => write!(
                f,
                "may contain only lowercase letters, digits and '-' (found {c:?})"
            ),
            Self::Start => f.write_str("must start with a lowercase letter"),
            Self::End => f.write_str("must end with a letter or digit"),
        }
    }
}

impl core::error::Error for NameError {}

/// Checks a store name: an RFC 1035 label (lowercase letters, digits and
/// `-`, starting with a letter, ending with a letter or digit) of
/// [`NAME_MIN_LEN`]..=[`NAME_MAX_LEN`] characters.
///
/// Length is counted in characters, so `"öö"` is reported as too short
/// (2) before its characters are: the message then matches what the user
/// sees in the field.
///
/// # Errors
///
/// The first rule the name breaks, as a [`NameError`].
pub fn store_name(name: &str) -> Result<(), NameError> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err(NameError::Empty);
    }
    if !(NAME_MIN_LEN..=NAME_MAX_LEN).contains(&chars) {
        return Err(NameError::Length { chars });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::Character(bad));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(NameError::Start);
    }
    if name.ends_with('-') {
        return Err(NameError::End);
    }
    Ok(())
}

/// Resolves a tenant reference, `tenants/<id>` or a bare `<id>`, to the id.
/// Ids follow the store-name rule: they appear in labels and log lines.
/// Only one `tenants/` prefix is removed.
///
/// # Errors
///
/// Why the id is not a valid name ([`NameError::Empty`] for `tenants/`).
pub fn tenant_id(reference: &str) -> Result<&str, NameError> {
    let id = reference.strip_prefix(TENANT_PREFIX).unwrap_or(reference);
    store_name(id).map(|()| id)
}

/// Why a text is not a valid request id. `Display` gives the API's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestIdError {
    /// Longer than [`REQUEST_ID_MAX_LEN`].
    TooLong {
        /// The id's length in bytes (characters, for the ASCII ids that are
        /// accepted).
        len: usize,
    },
    /// A space, a control character or a non-ASCII character.
    NotPrintable,
}

impl fmt::Display for RequestIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "must be at most {REQUEST_ID_MAX_LEN} characters long (got {len})"
            ),
            Self::NotPrintable => {
                f.write_str("may contain only printable ASCII characters without spaces")
            }
        }
    }
}

impl core::error::Error for RequestIdError {}

/// Checks an idempotency key: printable ASCII without spaces, at most
/// [`REQUEST_ID_MAX_LEN`] long. The empty key (none given) passes: the key
/// is optional.
///
/// The length is checked first and in bytes, so an overlong non-ASCII key
/// is reported as too long.
///
/// # Errors
///
/// The first rule the key breaks, as a [`RequestIdError`].
pub fn request_id(id: &str) -> Result<(), RequestIdError> {
    if id.len() > REQUEST_ID_MAX_LEN {
        return Err(RequestIdError::TooLong { len: id.len() });
    }
    if id.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(RequestIdError::NotPrintable);
    }
    Ok(())
}

/// Most custom domains one store may have.
pub const MAX_CUSTOM_DOMAINS: usize = 10;
/// Longest host name (RFC 1123), in characters.
pub const DOMAIN_MAX_LEN: usize = 253;

/// Why a custom domain is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainError {
    /// Empty.
    Empty,
    /// Longer than [`DOMAIN_MAX_LEN`].
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A single label: a domain needs a dot.
    NoDot,
    /// A character outside lowercase letters, digits, '-' and '.'.
    Character {
        /// The first such character.
        found: char,
    },
    /// An empty label, or one longer than 63 characters.
    Label,
    /// A label starting or ending with '-'.
    Hyphen,
    /// The last label is all digits: an IP address, not a name.
    Numeric,
    /// Under the platform's own domain, whose names are its stores'.
    Platform,
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainError::Empty => f.write_str("must not be empty"),
            DomainError::TooLong { len } => {
                write!(f, "must be at most {DOMAIN_MAX_LEN} characters (is {len})")
            }
            DomainError::NoDot => {
                f.write_str("must be a full domain name such as shop.example.com")
            }
            DomainError::Character { found } => write!(
                f,
                "may contain only lowercase letters, digits, '-' and '.' (found {found:?})"
            ),
            DomainError::Label => {
                f.write_str("each part between dots must have 1 to 63 characters")
            }
            DomainError::Hyphen => f.write_str("no part between dots may start or end with '-'"),
            DomainError::Numeric => f.write_str("must be a domain name, not an IP address"),
            DomainError::Platform => {
                f.write_str("is under the platform's own domain, whose names belong to its stores")
            }
        }
    }
}

/// Checks a custom domain for a store: a lowercase RFC 1123 host name with
/// at least two labels, no wildcard, not an IP address, and not
/// `platform_domain` or under it (those names are the platform's: every
/// store is served at `<name>.<platform domain>`).
///
/// # Errors
///
/// The first rule the domain breaks, as a [`DomainError`].
pub fn custom_domain(domain: &str, platform_domain: &str) -> Result<(), DomainError> {
    if domain.is_empty() {
        return Err(DomainError::Empty);
    }
    if domain.len() > DOMAIN_MAX_LEN {
        return Err(DomainError::TooLong { len: domain.len() });
    }
    if let Some(found) = domain
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(DomainError::Character { found });
    }
    if !domain.contains('.') {
        return Err(DomainError::NoDot);
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DomainError::Label);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainError::Hyphen);
        }
    }
    if domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DomainError::Numeric);
    }
    let platform = platform_domain.trim_matches('.');
    if !platform.is_empty()
        && (domain == platform
            || domain
                .strip_suffix(platform)
                .is_some_and(|head| head.ends_with('.')))
    {
        return Err(DomainError::Platform);
    }
    Ok(())
}

/// Why one domain of a store's list is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedDomainError {
    /// The domain itself breaks a rule.
    Domain(DomainError),
    /// An earlier entry of the list is the same domain.
    Duplicate,
}

impl fmt::Display for ListedDomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListedDomainError::Domain(e) => e.fmt(f),
            ListedDomainError::Duplicate => f.write_str("is listed twice"),
        }
    }
}

/// A list of custom domains longer than [`MAX_CUSTOM_DOMAINS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyDomains {
    /// How many the list has.
    pub count: usize,
}

impl fmt::Display for TooManyDomains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at most {MAX_CUSTOM_DOMAINS} custom domains per store (got {})",
            self.count
        )
    }
}

/// Checks the length of a store's list of custom domains.
///
/// # Errors
///
/// [`TooManyDomains`] past [`MAX_CUSTOM_DOMAINS`].
pub fn custom_domain_count(count: usize) -> Result<(), TooManyDomains> {
    if count > MAX_CUSTOM_DOMAINS {
        return Err(TooManyDomains { count });
    }
    Ok(())
}

/// Checks entry `i` of a store's list of custom domains: the rule of
/// [`custom_domain`], then that no earlier entry is the same domain.
///
/// # Errors
///
/// The first problem, as a [`ListedDomainError`].
///
/// # Panics
///
/// When `i` is not an index of `domains`.
pub fn listed_custom_domain<S: AsRef<str>>(
    domains: &[S],
    i: usize,
    platform_domain: &str,
) -> Result<(), ListedDomainError> {
    let domain = domains[i].as_ref();
    custom_domain(domain, platform_domain).map_err(ListedDomainError::Domain)?;
    if domains[..i].iter().any(|d| d.as_ref() == domain) {
        return Err(ListedDomainError::Duplicate);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
