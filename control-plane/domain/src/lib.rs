//! The store domain: plain types, validation, the lifecycle state machine
//! ([`lifecycle`]), tenancy and quota rules, and the ports (traits) that
//! adapters implement. It is its own crate so that the compiler keeps it
//! free of tonic, sea-orm, kube and wasmtime: the rules can be read and
//! tested alone (`cargo test -p storeplane-domain`).

pub mod admin;
pub mod backup;
pub mod engine;
pub mod error;
pub mod lifecycle;
pub mod page;
pub mod ports;
pub mod release;
pub mod service;
pub mod store;
pub mod tenancy;
pub mod validate;

pub use error::{Error, FieldViolation, QuotaViolation, Result};
pub use lifecycle::{Attempt, Readiness, conditions, needs_reconcile};
pub use store::*;
