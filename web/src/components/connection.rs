//! The live / reconnecting / offline indicator of the watch stream.

use yew::prelude::*;

use crate::{hooks::StoresContext, state::Connection};

/// The indicator; reads the stores context.
#[function_component]
pub fn ConnectionIndicator() -> Html {
    let Some(stores) = use_context::<StoresContext>() else {
        return Html::default();
    };
    let (class, label, detail) = match &stores.state.connection {
        Connection::Connecting => ("conn--connecting", "Connecting", None),
        Connection::Live => ("conn--live", "Live", None),
        Connection::Reconnecting { error } => ("conn--reconnecting", "Reconnecting", Some(error)),
        Connection::Offline { error } => ("conn--offline", "Offline", Some(error)),
    };
    let retry = matches!(stores.state.connection, Connection::Offline { .. }).then(|| {
        let reconnect = stores.reconnect.clone();
        html! {
            <button type="button" class="conn__retry" onclick={move |_| reconnect.emit(())}>
                { "Retry now" }
            </button>
        }
    });
    html! {
        <div class={classes!("conn", class)} role="status" aria-live="polite"
             title={detail.cloned()} data-connection={label.to_lowercase()}>
            <span class="conn__dot" aria-hidden="true"></span>
            <span class="conn__label">{ label }</span>
            if let Some(detail) = detail {
                <span class="sr-only">{ format!(": {detail}") }</span>
            }
            { for retry }
        </div>
    }
}

/// A notice under the header while the stream is down, so nobody mistakes
/// the last known state for the current one. (Not a live region: the
/// indicator already announces the change.)
#[function_component]
pub fn ConnectionNotice() -> Html {
    let Some(stores) = use_context::<StoresContext>() else {
        return Html::default();
    };
    let (error, offline) = match &stores.state.connection {
        Connection::Reconnecting { error } => (error, false),
        Connection::Offline { error } => (error, true),
        _ => return Html::default(),
    };
    let reconnect = stores.reconnect.clone();
    html! {
        <div class="banner banner--warning banner--connection" data-banner="connection">
            <svg class="banner__icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
                <path d="M2.5 7.5a11 11 0 0115 0M5 10.5a7 7 0 0110 0M7.6 13.4a3 3 0 014.8 0" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/>
                <path d="M3 3l14 14" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/>
            </svg>
            <div>
                <strong>{ if offline { "The server is unreachable: " } else { "Live updates paused: " } }</strong>
                { format!("{error}. Showing the last known state; reconnecting automatically.") }
            </div>
            if offline {
                <button type="button" class="button button--small banner__action" onclick={move |_| reconnect.emit(())}>
                    { "Retry now" }
                </button>
            }
        </div>
    }
}
