//! Newtypes for the names a plugin handles, so a namespace is never passed
//! where a store name was meant.

use std::fmt;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string. The host, not the SDK, checks its format.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// An engine's stable id, e.g. `static-site`; equals the bundle manifest's `id`.
    EngineId
);
string_id!(
    /// A store's server-assigned id (a UUID).
    StoreId
);
string_id!(
    /// A store's DNS label chosen by the tenant, unique on the platform.
    StoreName
);
string_id!(
    /// The Kubernetes namespace every host call about a store is scoped to.
    Namespace
);
string_id!(
    /// A store's owner, `tenants/<id>`.
    TenantName
);
