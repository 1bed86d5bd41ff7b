//! The server's own subcommands (`serve`, `migrate`, `db`, `sim-cluster`,
//! `chart`), one module each holding its clap arguments beside its code;
//! `main` only parses and dispatches. The client commands, which talk to a
//! server through the API, are in `crate::cli`.

pub mod chart;
pub mod db;
pub mod serve;
pub mod sim_cluster;
pub mod tenant;
pub mod token;
