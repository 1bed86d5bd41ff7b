//! Opaque page tokens (AIP-158): the last key of the previous page plus a
//! fingerprint of the filters, so a token cannot be replayed with other filters.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use super::FieldViolation;

#[derive(Serialize, Deserialize)]
struct Token<K> {
    /// Last key served.
    after: K,
    /// Fingerprint of the request's filters.
    filter: String,
}

/// A short fingerprint of whatever identifies a listing's filters.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize()[..8])
}

/// Encodes the token for the page after `after`.
pub fn encode<K: Serialize>(after: &K, filter: &str) -> String {
    let token = Token {
        after,
        filter: filter.to_owned(),
    };
    // Serializing plain keys and strings cannot fail; an empty token would only
    // end the listing early.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token; empty means the first page.
pub fn decode<K: DeserializeOwned>(token: &str, filter: &str) -> Result<Option<K>, FieldViolation> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || FieldViolation::new("page_token", "is not a token this API issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: Token<K> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.filter != filter {
        return Err(FieldViolation::new(
            "page_token",
            "was issued for different filters; repeat the request's other fields unchanged",
        ));
    }
    Ok(Some(token.after))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_with_same_filter() {
        let f = fingerprint(&["Ready", "woocommerce"]);
        let t = encode(&"0193-abc".to_owned(), &f);
        assert_eq!(decode::<String>(&t, &f), Ok(Some("0193-abc".to_owned())));
    }

    #[test]
    fn token_with_other_filters_or_garbage_is_rejected() {
        let t = encode(&5_i64, &fingerprint(&["a"]));
        assert!(decode::<i64>(&t, &fingerprint(&["b"])).is_err());
        assert!(decode::<i64>("!!not base64", "x").is_err());
        assert_eq!(decode::<i64>("", "x"), Ok(None));
    }
}
