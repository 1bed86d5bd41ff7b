//! Thin wrappers over the browser APIs the dashboard uses (storage, URL,
//! history, randomness, focus), so components stay free of `web_sys`
//! plumbing. Each degrades to a harmless default when an API is missing
//! (a storage-less private window, say) instead of panicking.

use wasm_bindgen::JsCast;

/// sessionStorage key of the bearer token: per tab, gone when it closes.
const TOKEN_KEY: &str = "storeplane.token";

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

fn session_storage() -> Option<web_sys::Storage> {
    window()?.session_storage().ok().flatten()
}

/// The token remembered for this tab.
pub fn stored_token() -> Option<String> {
    session_storage()?.get_item(TOKEN_KEY).ok().flatten()
}

/// Remembers (or, with `None`, forgets) the token for this tab.
pub fn store_token(token: Option<&str>) {
    if let Some(storage) = session_storage() {
        // Storage can refuse (quota, privacy mode); then the person simply
        // enters the token again after a reload.
        let _ = match token {
            Some(t) => storage.set_item(TOKEN_KEY, t),
            None => storage.remove_item(TOKEN_KEY),
        };
    }
}

/// Where the API lives: the `?api=` query parameter when given (serving
/// the dashboard from elsewhere during development), else this page's
/// origin (the server serves both).
pub fn api_base() -> String {
    let Some(location) = window().map(|w| w.location()) else {
        return String::new();
    };
    let from_query = location
        .search()
        .ok()
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
        .and_then(|params| params.get("api"))
        .filter(|api| !api.is_empty());
    from_query
        .or_else(|| location.origin().ok())
        .unwrap_or_default()
}

/// The current path (`/stores/x`).
pub fn current_path() -> String {
    window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned())
}

/// `path` plus the current query string, so `?api=` survives navigation.
pub fn href(path: &str) -> String {
    let search = window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    format!("{path}{search}")
}

/// Pushes `path` onto the history (keeping the query string).
pub fn push_path(path: &str) {
    if let Some(history) = window().and_then(|w| w.history().ok()) {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&href(path)));
    }
}

/// Sets the tab's title.
pub fn set_title(title: &str) {
    if let Some(document) = window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}

/// Moves keyboard focus to the element with `id`, if it exists.
pub fn focus_id(id: &str) {
    let element = window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}

/// The element that has focus now, to give it back later.
pub fn active_element() -> Option<web_sys::HtmlElement> {
    window()?
        .document()?
        .active_element()?
        .dyn_into::<web_sys::HtmlElement>()
        .ok()
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    window().is_none_or(|w| w.navigator().on_line())
}

/// A random number in `[0, 1)` (backoff jitter).
pub fn random_unit() -> f64 {
    js_sys::Math::random()
}

/// A random (version 4) UUID for idempotency keys. Uses
/// `crypto.getRandomValues`, which unlike `crypto.randomUUID` also works on
/// plain-HTTP origins other than localhost.
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    let filled = window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // Without a CSPRNG the key still only has to be unique per tab.
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = ((random_unit() * 256.0) as u8).wrapping_add(i as u8);
        }
    }
    uuid_v4(bytes)
}

/// Formats 16 random bytes as an RFC 9562 version-4 UUID.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4([0; 16]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
        assert_eq!(id.len(), 36);
    }
}
