//! The storeplane control plane: the adapters around the store domain.
//!
//! - [`domain`]: the `storeplane-domain` crate — stores, the lifecycle state
//!   machine, validation, tenancy rules, use cases and ports; no I/O.
//! - [`persistence`]: the sea-orm repositories (SQLite or PostgreSQL).
//! - [`watch`]: the change hub, the PostgreSQL listener and watch streams.
//! - [`grpc`]: tonic services, the gate (auth, limits, audit) and the one
//!   error mapping.
//! - [`cluster`]: Kubernetes through `kube::Client`, ownership labels, the
//!   plugin host's platform backend, credentials Secrets.
//! - [`reconcile`]: the reconciler, its queue, watches and orphan sweep.
//! - [`engines`] / [`plugins`]: engine catalogs (a JSON file, or plugins).
//! - [`metrics`], [`telemetry`]: Prometheus metrics, OpenTelemetry traces.
//! - [`dashboard`]: serving the built web dashboard.
//! - [`server`]: `storeplane serve`, wiring everything together.

pub use storeplane_domain as domain;

pub mod archives;
pub mod cluster;
pub mod dashboard;
pub mod engines;
pub mod grpc;
pub mod metrics;
pub mod persistence;
pub mod plugins;
pub mod reconcile;
pub mod schedule;
pub mod server;
pub mod telemetry;
pub mod watch;
