//! "3 min ago", with the exact local time on hover and in `datetime`.

use prost_types::Timestamp;
use yew::prelude::*;

use crate::{hooks::use_now, time};

/// Properties of [`RelativeTime`].
#[derive(Properties, PartialEq)]
pub struct RelativeTimeProps {
    /// The instant; nothing is shown when unset.
    pub at: Option<Timestamp>,
}

/// A relative time that keeps itself current.
#[function_component]
pub fn RelativeTime(props: &RelativeTimeProps) -> Html {
    let now = use_now(10_000);
    let Some(ms) = time::timestamp_ms(props.at.as_ref()) else {
        return html! { <span class="muted">{ "—" }</span> };
    };
    html! {
        <time datetime={time::iso_utc(ms)} title={time::exact(ms)}>
            { time::relative(now, ms) }
        </time>
    }
}
