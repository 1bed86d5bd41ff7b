//! One store: phase, conditions, addresses, custom domains, backups,
//! configuration and the live timeline, with Retry for a failed store,
//! Suspend/Resume when its engine can, and Delete behind a dialog.

mod actions;
mod backups;
mod domains;

use storeplane_proto::v1::{ConditionStatus, Store, StoreCredentials, StorePhase};
use yew::prelude::*;

use self::{actions::Actions, backups::Backups, domains::CustomDomains};
use crate::{
    api::{ApiError, struct_to_json},
    components::{Link, PhaseBadge, RelativeTime, Timeline},
    hooks::{Load, StoresContext, report_unauthenticated, use_api, use_load, use_session},
    route::Route,
    schema::value_text,
    state::{
        backups::{engine_backs_up, operation, short_id},
        pause::transition,
    },
};

/// Properties of [`DetailPage`].
#[derive(Properties, PartialEq)]
pub struct DetailProps {
    /// The store's name (from the path).
    pub name: String,
}

/// The store detail page.
#[function_component]
pub fn DetailPage(props: &DetailProps) -> Html {
    let stores = use_context::<StoresContext>();
    let live: Option<Store> = stores
        .as_ref()
        .and_then(|s| s.state.by_name(&props.name).cloned());
    let loaded = stores.as_ref().is_some_and(|s| s.state.loaded);
    // Seen through the watch at least once: if it then vanishes, it was
    // deleted while we looked (not a wrong address).
    let seen = use_mut_ref(|| false);
    if live.is_some() {
        *seen.borrow_mut() = true;
    }

    // Refetch the timeline whenever the watch reports a change to this
    // store (its etag moves on every update): live without polling.
    let revision = live.as_ref().map(|s| s.etag.clone());
    let events = use_load(
        (props.name.clone(), revision),
        |api, (name, _)| async move { api.list_store_events(&name).await },
    );
    // What the store's engine can do (Suspend, Resume, custom domains).
    let engines = use_load((), |api, ()| async move { api.list_engines().await });

    let Some(store) = live else {
        return if !loaded {
            html! { <section class="page"><p class="muted"><span class="spinner" aria-hidden="true"></span>{ "Loading…" }</p></section> }
        } else {
            let deleted = *seen.borrow();
            html! {
                <section class="page empty" aria-labelledby="page-title">
                    <h1 id="page-title">{ if deleted { "Store deleted" } else { "Store not found" } }</h1>
                    <p class="muted" role="status">
                        if deleted {
                            { format!("{} was deleted, with every resource it had.", props.name) }
                        } else {
                            { format!("There is no store named {} that you can see.", props.name) }
                        }
                    </p>
                    <Link to={Route::Stores} class="button button--primary">{ "Back to stores" }</Link>
                </section>
            }
        };
    };

    let timeline = match &*events {
        Load::Loading => {
            html! { <p class="muted"><span class="spinner" aria-hidden="true"></span>{ "Loading timeline…" }</p> }
        }
        Load::Failed(err) => {
            html! { <p class="alert alert--error">{ format!("Cannot load the timeline: {err}") }</p> }
        }
        Load::Ready(list) => html! { <Timeline events={list.clone()} /> },
    };
    let engine = engines
        .ready()
        .and_then(|list| list.iter().find(|e| e.id == store.engine))
        .cloned();
    let under_way = transition(&store);
    let running = operation(&store);

    html! {
        <section class="page" aria-labelledby="page-title">
            <header class="page__head">
                <div>
                    <Link to={Route::Stores} class="back-link">{ "← Stores" }</Link>
                    <div class="title-row">
                        <h1 id="page-title">{ store.name.clone() }</h1>
                        <PhaseBadge phase={store.phase()} />
                        if let Some(t) = under_way {
                            <span class="transition" role="status" data-transition={t.slug()}>
                                <span class="spinner" aria-hidden="true"></span>{ t.label() }
                            </span>
                        }
                        if let Some(op) = running {
                            <span class="transition" role="status" data-operation={op.slug()}>
                                <span class="spinner" aria-hidden="true"></span>{ op.label() }
                            </span>
                        }
                    </div>
                    <p class="muted">{ format!("{} store · {}", store.engine, store.tenant) }</p>
                    if !store.cloned_from.is_empty() {
                        <p class="muted" data-cloned-from={store.cloned_from.clone()}>
                            { "Cloned from backup " }<code title={store.cloned_from.clone()}>{ short_id(&store.cloned_from) }</code>
                        </p>
                    }
                </div>
                <Actions store={store.clone()} engine={engine.clone()} />
            </header>
            if store.phase() == StorePhase::Suspended && store.suspended {
                <p class="alert alert--warning" data-notice="suspended">
                    { "This store is paused: its workloads are stopped, its data is kept, and its address shows a “paused” page. Resume it to take orders again." }
                </p>
            }
            if store.phase() == StorePhase::Failed {
                <FailurePanel store={store.clone()} />
            }
            <div class="detail-grid">
                <div class="detail-grid__main">
                    // Once the engines are known: whether it can have
                    // custom domains depends on its engine. (If they
                    // cannot be listed, the server decides.)
                    if !matches!(*engines, Load::Loading) {
                        <CustomDomains store={store.clone()} engine={engine.clone()} />
                    }
                    if engine_backs_up(engine.as_ref()) {
                        <Backups store={store.clone()} engine={engine} />
                    }
                    <section class="card" aria-labelledby="timeline-title">
                        <h2 id="timeline-title" class="card__title">{ "Timeline" }</h2>
                        { timeline }
                    </section>
                </div>
                <div class="detail-grid__side">
                    <Addresses store={store.clone()} />
                    <Overview store={store.clone()} />
                    <Conditions store={store} />
                </div>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct StoreProps {
    store: Store,
}

#[function_component]
fn Addresses(props: &StoreProps) -> Html {
    let urls = props.store.urls.clone().unwrap_or_default();
    let ready = props.store.phase() == StorePhase::Ready;
    let link = |label: &str, url: &str| {
        html! {
            <div class="kv__row">
                <dt>{ label.to_owned() }</dt>
                <dd>
                    if url.is_empty() { <span class="muted">{ "—" }</span> }
                    else { <a href={url.to_owned()} target="_blank" rel="noopener noreferrer">{ url.to_owned() }</a> }
                </dd>
            </div>
        }
    };
    html! {
        <section class="card" aria-labelledby="urls-title">
            <h2 id="urls-title" class="card__title">{ "Addresses" }</h2>
            if !ready && urls.storefront.is_empty() {
                <p class="muted">{ "The storefront and admin addresses appear here once the store is ready." }</p>
            } else {
                <dl class="kv">
                    { link("Storefront", &urls.storefront) }
                    { link("Admin", &urls.admin) }
                </dl>
            }
            if props.store.credentials_available {
                <AdminLogin name={props.store.name.clone()} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct AdminLoginProps {
    name: String,
}

/// The store's admin login, fetched on request (each reveal is audited) and
/// held only while shown.
#[function_component]
fn AdminLogin(props: &AdminLoginProps) -> Html {
    let api = use_api();
    let session = use_session();
    let busy = use_state(|| false);
    let shown = use_state(|| None::<StoreCredentials>);
    let error = use_state(|| None::<String>);
    let reveal = {
        let (api, session, busy, shown, error) = (
            api.clone(),
            session.clone(),
            busy.clone(),
            shown.clone(),
            error.clone(),
        );
        let name = props.name.clone();
        Callback::from(move |_: MouseEvent| {
            if *busy {
                return;
            }
            busy.set(true);
            error.set(None);
            let (api, session, busy, shown, error, name) = (
                api.clone(),
                session.clone(),
                busy.clone(),
                shown.clone(),
                error.clone(),
                name.clone(),
            );
            yew::platform::spawn_local(async move {
                match api.reveal_store_credentials(&name).await {
                    Ok(credentials) => shown.set(Some(credentials)),
                    Err(ApiError::Unauthenticated(why)) => {
                        report_unauthenticated(&session, &api, why)
                    }
                    Err(err) => error.set(Some(err.to_string())),
                }
                busy.set(false);
            });
        })
    };
    let hide = {
        let shown = shown.clone();
        Callback::from(move |_: MouseEvent| shown.set(None))
    };
    html! {
        <div class="admin-login">
            if let Some(login) = &*shown {
                <dl class="kv">
                    <div class="kv__row"><dt>{ "Username" }</dt><dd><code>{ login.username.clone() }</code></dd></div>
                    <div class="kv__row"><dt>{ "Password" }</dt><dd><code class="secret">{ login.password.clone() }</code></dd></div>
                </dl>
                <button type="button" class="button" onclick={hide}>{ "Hide admin login" }</button>
            } else {
                <button type="button" class="button" onclick={reveal} disabled={*busy}>
                    if *busy { <span class="spinner" aria-hidden="true"></span>{ "Revealing…" } } else { { "Show admin login" } }
                </button>
                <p class="muted small">{ "Each reveal is recorded in the audit log." }</p>
            }
            if let Some(err) = &*error { <p class="alert alert--error" role="alert">{ format!("Cannot reveal the login: {err}") }</p> }
        </div>
    }
}

#[function_component]
fn Overview(props: &StoreProps) -> Html {
    let store = &props.store;
    let config = store
        .config
        .as_ref()
        .map(struct_to_json)
        .unwrap_or_default();
    html! {
        <section class="card" aria-labelledby="overview-title">
            <h2 id="overview-title" class="card__title">{ "Overview" }</h2>
            <dl class="kv">
                <div class="kv__row"><dt>{ "Engine" }</dt><dd>{ store.engine.clone() }</dd></div>
                <div class="kv__row"><dt>{ "Created" }</dt><dd><RelativeTime at={store.create_time} /></dd></div>
                <div class="kv__row"><dt>{ "Updated" }</dt><dd><RelativeTime at={store.update_time} /></dd></div>
                <div class="kv__row">
                    <dt>{ "Generation" }</dt>
                    <dd title="observed / desired">{ format!("{} / {}", store.observed_generation, store.generation) }</dd>
                </div>
                <div class="kv__row"><dt>{ "Id" }</dt><dd><code class="wrap">{ store.id.clone() }</code></dd></div>
                { for config.iter().map(|(k, v)| html! {
                    <div class="kv__row"><dt><code>{ k.clone() }</code></dt><dd>{ value_text(v) }</dd></div>
                }) }
            </dl>
        </section>
    }
}

#[function_component]
fn Conditions(props: &StoreProps) -> Html {
    let conditions = &props.store.conditions;
    html! {
        <section class="card" aria-labelledby="conditions-title">
            <h2 id="conditions-title" class="card__title">{ "Conditions" }</h2>
            if conditions.is_empty() {
                <p class="muted">{ "No conditions reported yet." }</p>
            } else {
                <ul class="conditions">
                    { for conditions.iter().map(|c| {
                        let (class, status) = match c.status() {
                            ConditionStatus::True => ("cond--true", "True"),
                            ConditionStatus::False => ("cond--false", "False"),
                            _ => ("cond--unknown", "Unknown"),
                        };
                        html! {
                            <li class={classes!("cond", class)}>
                                <div class="cond__head">
                                    <span class="cond__type">{ c.r#type.clone() }</span>
                                    <span class="cond__status">{ status }</span>
                                </div>
                                if !c.reason.is_empty() || !c.message.is_empty() {
                                    <p class="cond__message">
                                        if !c.reason.is_empty() { <strong>{ c.reason.clone() }</strong>{ " " } }
                                        { c.message.clone() }
                                    </p>
                                }
                                <span class="cond__time"><RelativeTime at={c.last_transition_time} /></span>
                            </li>
                        }
                    }) }
                </ul>
            }
        </section>
    }
}

#[function_component]
fn FailurePanel(props: &StoreProps) -> Html {
    let api = use_api();
    let session = use_session();
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let store = &props.store;
    let onclick = {
        let (api, session, busy, error) =
            (api.clone(), session.clone(), busy.clone(), error.clone());
        let name = store.name.clone();
        Callback::from(move |_: MouseEvent| {
            if *busy {
                return;
            }
            busy.set(true);
            error.set(None);
            let (api, session, busy, error, name) = (
                api.clone(),
                session.clone(),
                busy.clone(),
                error.clone(),
                name.clone(),
            );
            yew::platform::spawn_local(async move {
                // Success needs no handling here: the watch brings the
                // store back as Provisioning and this panel goes away.
                match api.retry_store(&name).await {
                    Ok(_) => {}
                    Err(ApiError::Unauthenticated(why)) => {
                        report_unauthenticated(&session, &api, why)
                    }
                    Err(err) => error.set(Some(err.to_string())),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <section class="alert alert--error failure" aria-labelledby="failure-title">
            <div class="failure__text">
                <h2 id="failure-title" class="failure__title">
                    { "Provisioning failed" }
                    if !store.failure_reason.is_empty() { { ": " }<code>{ store.failure_reason.clone() }</code> }
                </h2>
                if !store.failure_message.is_empty() { <p>{ store.failure_message.clone() }</p> }
                if let Some(err) = &*error { <p role="alert"><strong>{ "Retry failed: " }</strong>{ err.clone() }</p> }
            </div>
            <button type="button" class="button button--primary" {onclick} disabled={*busy}>
                if *busy { <span class="spinner" aria-hidden="true"></span>{ "Retrying…" } } else { { "Retry" } }
            </button>
        </section>
    }
}
