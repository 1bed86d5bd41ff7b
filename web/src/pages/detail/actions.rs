//! The store page's actions: Suspend (behind a dialog) or Resume when the
//! store's engine implements them, and Delete behind a dialog naming the
//! store. Progress shows through the watch, not through these calls.

use std::{cell::Cell, rc::Rc};

use storeplane_proto::v1::{Engine, Store, StorePhase};
use yew::prelude::*;

use crate::{
    api::ApiError,
    components::Dialog,
    hooks::{report_unauthenticated, use_api, use_route, use_session},
    route::Route,
    state::{PauseAction, pause::pause_action},
};

/// Properties of [`Actions`].
#[derive(Properties, PartialEq)]
pub(super) struct ActionsProps {
    /// The store, as the watch last reported it.
    pub store: Store,
    /// Its engine; `None` while the engines load (or if it is gone).
    pub engine: Option<Engine>,
}

/// Which confirmation is open.
#[derive(Clone, Copy, PartialEq)]
enum Confirm {
    Suspend,
    Delete,
}

#[function_component]
pub(super) fn Actions(props: &ActionsProps) -> Html {
    let api = use_api();
    let session = use_session();
    let open = use_state(|| None::<Confirm>);
    // A request sent for the store as it was (its etag): shown as under
    // way until the watch reports the store changed, so the button does
    // not come back in between.
    let requested = use_state(|| None::<(PauseAction, String)>);
    let error = use_state(|| None::<String>);
    // Two clicks can land before the button re-renders as busy; this is
    // checked and set synchronously.
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let store = &props.store;
    let pending = requested
        .as_ref()
        .filter(|(_, etag)| *etag == store.etag)
        .map(|(action, _)| *action);
    let deleting = store.phase() == StorePhase::Deleting;
    let offer = pause_action(store, props.engine.as_ref());

    let show = |which: Confirm| {
        let (open, error) = (open.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            open.set(Some(which));
        })
    };
    let on_close = {
        let open = open.clone();
        Callback::from(move |()| open.set(None))
    };
    let on_suspended = {
        let (open, requested) = (open.clone(), requested.clone());
        Callback::from(move |etag: String| {
            requested.set(Some((PauseAction::Suspend, etag)));
            open.set(None);
        })
    };
    let resume = {
        let (api, session, requested, error) = (
            api.clone(),
            session.clone(),
            requested.clone(),
            error.clone(),
        );
        let (name, etag, in_flight) = (
            store.name.clone(),
            store.etag.clone(),
            Rc::clone(&in_flight),
        );
        Callback::from(move |_: MouseEvent| {
            if in_flight.replace(true) {
                return;
            }
            requested.set(Some((PauseAction::Resume, etag.clone())));
            error.set(None);
            let (api, session, requested, error) = (
                api.clone(),
                session.clone(),
                requested.clone(),
                error.clone(),
            );
            let (name, etag, in_flight) = (name.clone(), etag.clone(), Rc::clone(&in_flight));
            yew::platform::spawn_local(async move {
                let result = api.resume_store(&name, &etag).await;
                in_flight.set(false);
                match result {
                    // The watch brings the store back as Resuming.
                    Ok(_) => {}
                    Err(ApiError::Unauthenticated(why)) => {
                        requested.set(None);
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        requested.set(None);
                        error.set(Some(format!("Cannot resume the store: {err}")));
                    }
                }
            });
        })
    };

    let pause_button = match (pending, offer) {
        (Some(PauseAction::Suspend), _) => html! {
            <button type="button" class="button" disabled=true aria-busy="true">
                <span class="spinner" aria-hidden="true"></span>{ "Suspending…" }
            </button>
        },
        (Some(PauseAction::Resume), _) => html! {
            <button type="button" class="button button--primary" disabled=true aria-busy="true">
                <span class="spinner" aria-hidden="true"></span>{ "Resuming…" }
            </button>
        },
        (None, Some(PauseAction::Suspend)) => html! {
            <button type="button" class="button" onclick={show(Confirm::Suspend)} aria-haspopup="dialog">
                { "Suspend store" }
            </button>
        },
        (None, Some(PauseAction::Resume)) => html! {
            <button type="button" class="button button--primary" onclick={resume}>{ "Resume store" }</button>
        },
        (None, None) => Html::default(),
    };

    html! {
        <div class="page__side">
            <div class="page__actions">
                { pause_button }
                <button type="button" class="button button--danger" onclick={show(Confirm::Delete)} disabled={deleting}
                        aria-haspopup="dialog">
                    { if deleting { "Deleting…" } else { "Delete store" } }
                </button>
            </div>
            if let Some(err) = &*error {
                <p class="alert alert--error" role="alert">{ err.clone() }</p>
            }
            if *open == Some(Confirm::Suspend) {
                <SuspendDialog store={store.clone()} on_close={on_close.clone()} on_done={on_suspended} />
            }
            if *open == Some(Confirm::Delete) {
                <DeleteDialog store={store.clone()} {on_close} />
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct SuspendDialogProps {
    store: Store,
    on_close: Callback<()>,
    /// The server took the request made for the store with this etag.
    on_done: Callback<String>,
}

#[function_component]
fn SuspendDialog(props: &SuspendDialogProps) -> Html {
    let api = use_api();
    let session = use_session();
    let busy = use_state(|| false);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let error = use_state(|| None::<String>);
    let name = props.store.name.clone();
    let onsubmit = {
        let (api, session, busy, error) =
            (api.clone(), session.clone(), busy.clone(), error.clone());
        let (name, etag, on_done) = (
            name.clone(),
            props.store.etag.clone(),
            props.on_done.clone(),
        );
        let in_flight = Rc::clone(&in_flight);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if in_flight.replace(true) {
                return;
            }
            busy.set(true);
            error.set(None);
            let (api, session, busy, error) =
                (api.clone(), session.clone(), busy.clone(), error.clone());
            let (name, etag, on_done) = (name.clone(), etag.clone(), on_done.clone());
            let in_flight = Rc::clone(&in_flight);
            yew::platform::spawn_local(async move {
                // With the etag: "pause the store I looked at".
                let result = api.suspend_store(&name, &etag).await;
                in_flight.set(false);
                match result {
                    Ok(_) => on_done.emit(etag),
                    Err(ApiError::Unauthenticated(why)) => {
                        busy.set(false);
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        busy.set(false);
                        error.set(Some(err.to_string()));
                    }
                }
            });
        })
    };
    let cancel = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <Dialog title={format!("Suspend {name}?")} on_close={props.on_close.clone()} alert=true>
            <form class="dialog__body" {onsubmit} novalidate=true>
                <p id="suspend-warning">
                    { "While " }<strong>{ name.clone() }</strong>{ " is suspended its workloads stop and its data is kept: products, orders and settings are all there when you resume it. Meanwhile the store's address shows a “paused” page and takes no orders." }
                </p>
                if let Some(err) = &*error {
                    <p class="alert alert--error" role="alert">{ err.clone() }</p>
                }
                <div class="dialog__actions">
                    <button type="button" class="button button--ghost" onclick={cancel}>{ "Cancel" }</button>
                    <button type="submit" class="button button--primary" disabled={*busy}
                            aria-describedby="suspend-warning">
                        if *busy { <span class="spinner" aria-hidden="true"></span>{ "Suspending…" } } else { { "Suspend store" } }
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

#[derive(Properties, PartialEq)]
struct DeleteDialogProps {
    store: Store,
    on_close: Callback<()>,
}

#[function_component]
fn DeleteDialog(props: &DeleteDialogProps) -> Html {
    let api = use_api();
    let session = use_session();
    let navigate = use_route().navigate;
    let typed = use_state(String::new);
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let name = props.store.name.clone();
    let matches = *typed == name;

    let oninput = {
        let typed = typed.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            typed.set(input.value());
        })
    };
    let onsubmit = {
        let (api, session, busy, error) =
            (api.clone(), session.clone(), busy.clone(), error.clone());
        let (name, etag, on_close) = (
            name.clone(),
            props.store.etag.clone(),
            props.on_close.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !matches || *busy {
                return;
            }
            busy.set(true);
            error.set(None);
            let (api, session, busy, error) =
                (api.clone(), session.clone(), busy.clone(), error.clone());
            let (name, etag, on_close, navigate) = (
                name.clone(),
                etag.clone(),
                on_close.clone(),
                navigate.clone(),
            );
            yew::platform::spawn_local(async move {
                // The etag makes this "delete the store I looked at": if it
                // changed meanwhile, the server refuses and we say so.
                match api.delete_store(&name, &etag).await {
                    Ok(_) => {
                        on_close.emit(());
                        navigate.emit(Route::Stores);
                    }
                    Err(ApiError::Unauthenticated(why)) => {
                        busy.set(false);
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        busy.set(false);
                        error.set(Some(err.to_string()));
                    }
                }
            });
        })
    };
    let cancel = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <Dialog title={format!("Delete {name}?")} on_close={props.on_close.clone()} alert=true>
            <form class="dialog__body" {onsubmit} novalidate=true>
                <p id="delete-warning">
                    { "This removes the store " }<strong>{ name.clone() }</strong>
                    { " and everything it has — namespace, databases, volumes, secrets. Orders and products are lost. This cannot be undone." }
                </p>
                <div class="field">
                    <label for="confirm-name" class="field__label">
                        { "Type " }<strong class="mono">{ name.clone() }</strong>{ " to confirm" }
                    </label>
                    <input id="confirm-name" class="input" type="text" autocomplete="off" spellcheck="false"
                           autocapitalize="none" value={(*typed).clone()} {oninput} disabled={*busy}
                           aria-describedby="delete-warning" />
                </div>
                if let Some(err) = &*error {
                    <p class="alert alert--error" role="alert">{ err.clone() }</p>
                }
                <div class="dialog__actions">
                    <button type="button" class="button button--ghost" onclick={cancel}>{ "Cancel" }</button>
                    <button type="submit" class="button button--danger" disabled={!matches || *busy}>
                        if *busy { <span class="spinner" aria-hidden="true"></span>{ "Deleting…" } } else { { "Delete store" } }
                    </button>
                </div>
            </form>
        </Dialog>
    }
}
