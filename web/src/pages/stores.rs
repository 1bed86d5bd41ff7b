//! The live list of stores.

use storeplane_proto::v1::{Store, StorePhase};
use yew::prelude::*;

use crate::{
    components::{Link, PhaseBadge, RelativeTime},
    hooks::StoresContext,
    route::Route,
    state::{
        StoreFilter,
        backups::operation,
        pause::transition,
        stores::{PHASES, phase_from_slug},
    },
};

/// The stores page.
#[function_component]
pub fn StoresPage() -> Html {
    let filter = use_state(StoreFilter::default);
    let Some(stores) = use_context::<StoresContext>() else {
        return Html::default();
    };
    let state = &stores.state;
    let visible = filter.apply(state);
    let total = state.stores.len();

    let on_phase = {
        let filter = filter.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            filter.set(StoreFilter {
                phase: phase_from_slug(&select.value()),
                ..(*filter).clone()
            });
        })
    };
    let on_engine = {
        let filter = filter.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let engine = select.value();
            filter.set(StoreFilter {
                engine: (!engine.is_empty()).then_some(engine),
                ..(*filter).clone()
            });
        })
    };
    let clear = {
        let filter = filter.clone();
        Callback::from(move |_: MouseEvent| filter.set(StoreFilter::default()))
    };

    let status = if !state.loaded {
        "Loading stores…".to_owned()
    } else if filter.is_active() {
        format!("Showing {} of {} stores", visible.len(), total)
    } else {
        match total {
            0 => "No stores".to_owned(),
            1 => "1 store".to_owned(),
            n => format!("{n} stores"),
        }
    };
    let phase_slug = filter
        .phase
        .map(|p| crate::state::stores::phase_names(p).0)
        .unwrap_or("");
    let engine_value = filter.engine.clone().unwrap_or_default();

    let body = if !state.loaded {
        skeleton()
    } else if total == 0 {
        empty_state()
    } else if visible.is_empty() {
        html! {
            <div class="empty card">
                <h2>{ "No stores match these filters" }</h2>
                <button type="button" class="button" onclick={clear.clone()}>{ "Clear filters" }</button>
            </div>
        }
    } else {
        store_table(&visible)
    };

    html! {
        <section class="page" aria-labelledby="page-title">
            <header class="page__head">
                <div>
                    <h1 id="page-title">{ "Stores" }</h1>
                    <p class="page__status muted" aria-live="polite" aria-atomic="true" id="list-status">{ status }</p>
                </div>
                <Link to={Route::NewStore} class="button button--primary">
                    <span aria-hidden="true" class="button__icon">{ "+" }</span>{ "Create store" }
                </Link>
            </header>
            if total > 0 {
                <div class="toolbar" role="group" aria-label="Filter stores">
                    <div class="toolbar__field">
                        <label for="filter-phase">{ "Phase" }</label>
                        <select id="filter-phase" class="input select" onchange={on_phase}>
                            <option value="" selected={phase_slug.is_empty()}>{ "All phases" }</option>
                            { for PHASES.iter().map(|(_, slug, label)| html! {
                                <option value={*slug} selected={*slug == phase_slug}>{ *label }</option>
                            }) }
                        </select>
                    </div>
                    <div class="toolbar__field">
                        <label for="filter-engine">{ "Engine" }</label>
                        <select id="filter-engine" class="input select" onchange={on_engine}>
                            <option value="" selected={engine_value.is_empty()}>{ "All engines" }</option>
                            { for state.engines().into_iter().map(|e| html! {
                                <option value={e.clone()} selected={e == engine_value}>{ e }</option>
                            }) }
                        </select>
                    </div>
                    if filter.is_active() {
                        <button type="button" class="button button--ghost" onclick={clear}>{ "Clear filters" }</button>
                    }
                </div>
            }
            { body }
        </section>
    }
}

fn store_table(stores: &[&Store]) -> Html {
    html! {
        <div class="card card--flush">
            <table class="table" aria-describedby="list-status">
                <thead>
                    <tr>
                        <th scope="col">{ "Name" }</th>
                        <th scope="col">{ "Engine" }</th>
                        <th scope="col">{ "Phase" }</th>
                        <th scope="col">{ "Links" }</th>
                        <th scope="col">{ "Created" }</th>
                    </tr>
                </thead>
                <tbody>
                    { for stores.iter().map(|s| store_row(s)) }
                </tbody>
            </table>
        </div>
    }
}

fn store_row(store: &Store) -> Html {
    let urls = store.urls.clone().unwrap_or_default();
    let ready = store.phase() == StorePhase::Ready;
    html! {
        <tr key={store.id.clone()} data-store={store.name.clone()}>
            <td data-label="Name">
                <Link to={Route::Store(store.name.clone())} class="table__name">{ store.name.clone() }</Link>
                if store.phase() == StorePhase::Failed && !store.failure_reason.is_empty() {
                    <div class="table__sub">{ store.failure_reason.clone() }</div>
                }
                if let Some(t) = transition(store) {
                    <div class="table__sub" data-transition={t.slug()}>{ t.label() }</div>
                }
            </td>
            <td data-label="Engine"><span class="engine-tag">{ store.engine.clone() }</span></td>
            <td data-label="Phase">
                <PhaseBadge phase={store.phase()} />
                if let Some(op) = operation(store) {
                    <div class="table__sub" data-operation={op.slug()}>{ op.label() }</div>
                }
            </td>
            <td data-label="Links">
                if ready && (!urls.storefront.is_empty() || !urls.admin.is_empty()) {
                    <span class="links">
                        if !urls.storefront.is_empty() {
                            <a href={urls.storefront.clone()} target="_blank" rel="noopener noreferrer">
                                { "Storefront" }<span class="ext" aria-hidden="true">{ "↗" }</span><span class="sr-only">{ format!(" of {} (opens in a new tab)", store.name) }</span>
                            </a>
                        }
                        if !urls.admin.is_empty() {
                            <a href={urls.admin.clone()} target="_blank" rel="noopener noreferrer">
                                { "Admin" }<span class="ext" aria-hidden="true">{ "↗" }</span><span class="sr-only">{ format!(" of {} (opens in a new tab)", store.name) }</span>
                            </a>
                        }
                    </span>
                } else {
                    <span class="muted" aria-label="none yet">{ "—" }</span>
                }
            </td>
            <td data-label="Created"><RelativeTime at={store.create_time} /></td>
        </tr>
    }
}

fn skeleton() -> Html {
    html! {
        <div class="card card--flush" aria-hidden="true">
            <div class="skeleton">
                { for (0..3).map(|_| html! { <div class="skeleton__row"><span></span><span></span><span></span></div> }) }
            </div>
        </div>
    }
}

fn empty_state() -> Html {
    html! {
        <div class="empty card">
            <svg class="empty__art" viewBox="0 0 64 64" width="64" height="64" aria-hidden="true">
                <path d="M10 26l4-14h36l4 14" fill="none" stroke="currentColor" stroke-width="3" stroke-linejoin="round"/>
                <path d="M10 26c0 4 3 7 7 7s7-3 7-7c0 4 3 7 8 7s8-3 8-7c0 4 3 7 7 7s7-3 7-7" fill="none" stroke="currentColor" stroke-width="3"/>
                <path d="M14 33v19h36V33M27 52V40h10v12" fill="none" stroke="currentColor" stroke-width="3" stroke-linejoin="round"/>
            </svg>
            <h2>{ "No stores yet" }</h2>
            <p class="muted">{ "Pick an engine, give the store a name, and storeplane provisions it on the cluster. It shows up here the moment it is created." }</p>
            <Link to={Route::NewStore} class="button button--primary">{ "Create your first store" }</Link>
        </div>
    }
}
