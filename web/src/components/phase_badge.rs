//! A store's phase as a coloured badge; Provisioning and Deleting pulse so
//! that work in progress reads as such at a glance.

use storeplane_proto::v1::StorePhase;
use yew::prelude::*;

use crate::state::stores::phase_names;

/// Properties of [`PhaseBadge`].
#[derive(Properties, PartialEq)]
pub struct PhaseBadgeProps {
    /// The phase.
    pub phase: StorePhase,
}

/// The phase badge.
#[function_component]
pub fn PhaseBadge(props: &PhaseBadgeProps) -> Html {
    let (slug, label) = phase_names(props.phase);
    let busy = matches!(props.phase, StorePhase::Provisioning | StorePhase::Deleting);
    html! {
        <span class={classes!("badge", format!("badge--{slug}"), busy.then_some("badge--busy"))}
              data-phase={slug}>
            <span class="badge__dot" aria-hidden="true"></span>
            { label }
        </span>
    }
}
