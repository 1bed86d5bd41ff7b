//! The store domain: plain types, validation, the lifecycle rules and the
//! ports (traits) that adapters implement. Nothing here knows about tonic,
//! sea-orm, kube or wasmtime, so the rules can be read and tested alone.

pub mod admin;
pub mod engine;
pub mod error;
pub mod page;
pub mod ports;
pub mod service;
pub mod store;
pub mod tenancy;
pub mod validate;

pub use error::{Error, FieldViolation, QuotaViolation, Result};
pub use store::*;
