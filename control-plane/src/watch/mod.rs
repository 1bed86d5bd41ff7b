//! `WatchStores` plumbing: one [`ChangeHub`] per process fans committed
//! changes out to every watcher; each watcher is list-then-watch with
//! resume tokens, like a Kubernetes watch.
//!
//! Nothing polls. The hub wakes when this process commits a change (a
//! `Notify` the repository signals) or, on PostgreSQL, when another replica
//! does (`LISTEN`), and then reads the change log from where it stopped.

mod hub;
mod pg;
mod stream;

pub use hub::{ChangeHub, HubMessage};
pub use pg::{HANDOFF_CHANNEL, hand_back, spawn_listener};
pub use stream::{WatchAuth, WatchEvent, WatchOptions, watch};
