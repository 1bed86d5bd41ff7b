//! The dashboard's pages and their paths. History-API routing: the server
//! (`--dashboard-dir`) answers every unknown path with `index.html`.

/// A page of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: the live list of stores.
    Stores,
    /// `/stores/new`: the create form.
    NewStore,
    /// `/stores/<name>`: one store.
    Store(String),
    /// `/audit`: the audit log.
    Audit,
    /// Anything else.
    NotFound,
}

impl Route {
    /// The route a path names. Trailing slashes are forgiven, and a name
    /// is percent-decoded only as far as names need (they are DNS labels).
    pub fn parse(path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [] | ["stores"] | ["index.html"] => Self::Stores,
            ["stores", "new"] => Self::NewStore,
            ["stores", name] => Self::Store((*name).to_owned()),
            ["audit"] => Self::Audit,
            _ => Self::NotFound,
        }
    }

    /// The path of this route.
    pub fn path(&self) -> String {
        match self {
            Self::Stores => "/".to_owned(),
            Self::NewStore => "/stores/new".to_owned(),
            // A name that is not a valid store name cannot route anywhere
            // useful; encoding keeps it from breaking the path anyway.
            Self::Store(name) => format!("/stores/{}", encode_segment(name)),
            Self::Audit => "/audit".to_owned(),
            Self::NotFound => "/404".to_owned(),
        }
    }

    /// The document title for this route.
    pub fn title(&self) -> String {
        let page = match self {
            Self::Stores => "Stores".to_owned(),
            Self::NewStore => "Create store".to_owned(),
            Self::Store(name) => name.clone(),
            Self::Audit => "Audit log".to_owned(),
            Self::NotFound => "Not found".to_owned(),
        };
        format!("{page} · storeplane")
    }
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for route in [
            Route::Stores,
            Route::NewStore,
            Route::Store("corner-shop".into()),
            Route::Audit,
        ] {
            assert_eq!(Route::parse(&route.path()), route);
        }
    }

    #[test]
    fn parse_forgives_trailing_slashes_and_rejects_unknown_paths() {
        assert_eq!(Route::parse(""), Route::Stores);
        assert_eq!(Route::parse("/stores/"), Route::Stores);
        assert_eq!(Route::parse("/stores/shop/"), Route::Store("shop".into()));
        assert_eq!(Route::parse("/nope"), Route::NotFound);
        assert_eq!(Route::parse("/stores/a/b"), Route::NotFound);
    }

    #[test]
    fn store_paths_escape_what_a_path_cannot_hold() {
        assert_eq!(Route::Store("a/b c".into()).path(), "/stores/a%2Fb%20c");
    }
}
