//! In-app links: real `<a href>`s (open in a new tab, copy the address)
//! that navigate without a reload on a plain click.

use yew::prelude::*;

use crate::{browser, hooks::use_route, route::Route};

/// Properties of [`Link`].
#[derive(Properties, PartialEq)]
pub struct LinkProps {
    /// Where it goes.
    pub to: Route,
    /// CSS classes.
    #[prop_or_default]
    pub class: Classes,
    /// Marks the link as the current page (`aria-current="page"`).
    #[prop_or_default]
    pub current: bool,
    /// What it says.
    #[prop_or_default]
    pub children: Html,
}

/// A link to a page of the dashboard.
#[function_component]
pub fn Link(props: &LinkProps) -> Html {
    let navigate = use_route().navigate;
    let onclick = {
        let to = props.to.clone();
        Callback::from(move |e: MouseEvent| {
            // Let the browser handle "open in new tab" and friends.
            if e.button() != 0 || e.ctrl_key() || e.meta_key() || e.shift_key() || e.alt_key() {
                return;
            }
            e.prevent_default();
            navigate.emit(to.clone());
        })
    };
    html! {
        <a
            href={browser::href(&props.to.path())}
            class={props.class.clone()}
            aria-current={props.current.then_some("page")}
            {onclick}
        >
            { props.children.clone() }
        </a>
    }
}
