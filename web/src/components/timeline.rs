//! A store's timeline: what the platform did, when, and how long it took.

use storeplane_proto::v1::{EventOutcome, StoreEvent};
use yew::prelude::*;

use super::RelativeTime;
use crate::time;

/// `DeleteRequested` → `Delete requested`.
pub fn humanize_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len() + 4);
    for (i, c) in reason.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Properties of [`Timeline`].
#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    /// Oldest first, as the API returns them.
    pub events: Vec<StoreEvent>,
}

/// The timeline, newest step on top.
#[function_component]
pub fn Timeline(props: &TimelineProps) -> Html {
    if props.events.is_empty() {
        return html! { <p class="muted">{ "Nothing has happened yet." }</p> };
    }
    html! {
        <ol class="timeline">
            { for props.events.iter().rev().map(|event| {
                let (class, outcome) = match event.outcome() {
                    EventOutcome::Succeeded => ("timeline__item--ok", "succeeded"),
                    EventOutcome::Failed => ("timeline__item--failed", "failed"),
                    _ => ("timeline__item--info", "info"),
                };
                html! {
                    <li class={classes!("timeline__item", class)} key={event.id}>
                        <span class="timeline__marker" aria-hidden="true"></span>
                        <div class="timeline__body">
                            <div class="timeline__head">
                                <span class="timeline__reason">{ humanize_reason(&event.reason) }</span>
                                <span class="sr-only">{ format!(" ({outcome})") }</span>
                                if event.duration_ms > 0 {
                                    <span class="timeline__duration" title="How long this step took">
                                        { time::duration(event.duration_ms) }
                                    </span>
                                }
                                <span class="timeline__time"><RelativeTime at={event.time} /></span>
                            </div>
                            if !event.message.is_empty() {
                                <p class="timeline__message">{ event.message.clone() }</p>
                            }
                        </div>
                    </li>
                }
            }) }
        </ol>
    }
}

#[cfg(test)]
mod tests {
    use super::humanize_reason;

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(humanize_reason("DeleteRequested"), "Delete requested");
        assert_eq!(humanize_reason("Created"), "Created");
        assert_eq!(humanize_reason(""), "");
    }
}
