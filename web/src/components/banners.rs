//! What the server says about itself that a person must know: a simulated
//! cluster, its notices, and authentication being off.

use yew::prelude::*;

use crate::hooks::use_session;

/// The banners under the header.
#[function_component]
pub fn ServerBanners() -> Html {
    let session = use_session();
    let Some(info) = session.server() else {
        return Html::default();
    };
    let cluster_note = match info.cluster.as_str() {
        "simulated" => Some(
            "The cluster is simulated: stores go through every step, but nothing really runs and their addresses do not open.",
        ),
        "none" => Some("No cluster is connected: stores are recorded but not provisioned yet."),
        _ => None,
    };
    // The server's own words come first; ours only fill in when it says
    // nothing about its cluster.
    // With auth off, the server's own notice about it would repeat the
    // warning banner above.
    let notices: Vec<&String> = info
        .notices
        .iter()
        .filter(|n| info.auth_required || !n.to_lowercase().contains("authentication"))
        .collect();
    let cluster_note = cluster_note.filter(|_| notices.is_empty());
    let heading = match info.cluster.as_str() {
        "simulated" => Some("Simulated cluster."),
        "none" => Some("No cluster."),
        _ => None,
    };
    html! {
        <div class="banners">
            if !info.auth_required {
                <div class="banner banner--warning" role="alert" data-banner="auth-disabled">
                    <svg class="banner__icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
                        <path d="M10 2.5l8 14H2z" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"/>
                        <path d="M10 8v4M10 14.3v.1" stroke="currentColor" stroke-width="1.9" stroke-linecap="round"/>
                    </svg>
                    <div>
                        <strong>{ "Authentication is disabled." }</strong>
                        { " Anyone who can reach this server acts as an administrator. Never run it like this outside local development." }
                    </div>
                </div>
            }
            if cluster_note.is_some() || !notices.is_empty() {
                <div class="banner banner--info" role="note" data-banner="cluster" data-cluster={info.cluster.clone()}>
                    <svg class="banner__icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
                        <circle cx="10" cy="10" r="8.5" fill="none" stroke="currentColor" stroke-width="1.6"/>
                        <path d="M10 9v5M10 6.2v.1" stroke="currentColor" stroke-width="1.9" stroke-linecap="round"/>
                    </svg>
                    <div>
                        if let Some(heading) = heading { <strong>{ heading }</strong>{ " " } }
                        if let Some(note) = cluster_note { { note } }
                        { for notices.iter().enumerate().map(|(i, n)| html! {
                            <>{ if i > 0 { " " } else { "" } }{ (*n).clone() }</>
                        }) }
                    </div>
                </div>
            }
        </div>
    }
}
