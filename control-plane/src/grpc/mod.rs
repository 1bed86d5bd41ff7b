//! gRPC adapter: tonic services over the domain, and the one mapping from
//! domain errors to `tonic::Status`.

mod admin;
pub mod connections;
/// Conversions between the API's messages and domain types (the CLI
/// shares them).
pub mod convert;
mod engines;
pub mod gate;
mod status;
mod stores;

pub use admin::{AdminApi, AuditApi, InfoApi};
pub use engines::EngineApi;
pub use status::to_status;
pub use stores::StoreApi;

/// `ErrorInfo.domain` of every storeplane error.
pub const ERROR_DOMAIN: &str = "storeplane.dev";
