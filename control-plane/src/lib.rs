//! The storeplane control plane.
//!
//! - [`domain`]: stores, validation, lifecycle rules and ports — no I/O.
//! - [`persistence`]: sea-orm repository (SQLite or PostgreSQL).
//! - [`watch`]: change fan-out and list-then-watch streams.
//! - [`grpc`]: tonic services and the error mapping.
//! - [`engines`]: the engine catalog from configuration.
//! - [`server`]: `storeplane serve`.

pub mod cluster;
pub mod dashboard;
pub mod domain;
pub mod engines;
pub mod grpc;
pub mod metrics;
pub mod persistence;
pub mod plugins;
pub mod reconcile;
pub mod server;
pub mod telemetry;
pub mod watch;
