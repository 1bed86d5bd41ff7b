//! Any path the dashboard does not know.

use yew::prelude::*;

use crate::{components::Link, route::Route};

/// The 404 page.
#[function_component]
pub fn NotFoundPage() -> Html {
    html! {
        <section class="page empty">
            <h1>{ "Page not found" }</h1>
            <p class="muted">{ "There is nothing at this address." }</p>
            <Link to={Route::Stores} class="button button--primary">{ "Go to stores" }</Link>
        </section>
    }
}
