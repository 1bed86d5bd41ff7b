//! Reusable pieces of the dashboard's UI.

mod banners;
mod config_fields;
mod connection;
mod dialog;
mod link;
mod phase_badge;
mod relative_time;
mod timeline;
mod token_prompt;

pub use banners::ServerBanners;
pub use config_fields::ConfigFields;
pub use connection::{ConnectionIndicator, ConnectionNotice};
pub use dialog::Dialog;
pub use link::Link;
pub use phase_badge::PhaseBadge;
pub use relative_time::RelativeTime;
pub use timeline::Timeline;
pub use token_prompt::TokenPrompt;
