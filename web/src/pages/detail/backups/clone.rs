//! Cloning a backup into a new store: its name checked with the create
//! form's rule (in the server's words), CreateStore with `from_backup`, and
//! off to the new store's page.

use std::{cell::Cell, rc::Rc};

use storeplane_proto::v1::{Backup, Store};
use yew::prelude::*;

use super::taken_at;
use crate::{
    api::ApiError,
    browser,
    components::Dialog,
    hooks::{report_unauthenticated, use_api, use_route, use_session},
    route::Route,
    state::backups::clone_request,
    validate,
};

#[derive(Properties, PartialEq)]
pub(super) struct CloneProps {
    pub source: Store,
    pub backup: Backup,
    pub on_close: Callback<()>,
}

/// A new store from a backup: its name (the create form's rule, in the
/// server's words), then CreateStore with `from_backup` and off to its page.
#[function_component]
pub(super) fn CloneDialog(props: &CloneProps) -> Html {
    let api = use_api();
    let session = use_session();
    let navigate = use_route().navigate;
    let name = use_state(String::new);
    let attempted = use_state(|| false);
    let busy = use_state(|| false);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let server_error = use_state(|| None::<String>);
    // The idempotency key of the submission: kept after a failure so that
    // sending the same name again cannot create a second store, dropped
    // by an edit (another name is another request), as on the create form.
    let request_id = use_mut_ref(|| None::<String>);
    let client_error = validate::store_name(name.trim())
        .err()
        .map(|e| e.to_string());
    let name_error = (*server_error).clone().or_else(|| {
        (*attempted || !name.is_empty())
            .then(|| client_error.clone())
            .flatten()
    });

    let oninput = {
        let (name, server_error, request_id) =
            (name.clone(), server_error.clone(), request_id.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            name.set(input.value());
            server_error.set(None);
            *request_id.borrow_mut() = None;
        })
    };
    let onsubmit = {
        let (api, session, attempted, busy, server_error) = (
            api.clone(),
            session.clone(),
            attempted.clone(),
            busy.clone(),
            server_error.clone(),
        );
        let (name, backup) = (name.clone(), props.backup.clone());
        let (request_id, on_close) = (request_id.clone(), props.on_close.clone());
        let client_ok = client_error.is_none();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !client_ok {
                attempted.set(true);
                browser::focus_id("clone-name");
                return;
            }
            if in_flight.replace(true) {
                return;
            }
            busy.set(true);
            server_error.set(None);
            let key = request_id
                .borrow_mut()
                .get_or_insert_with(browser::random_uuid)
                .clone();
            let request = clone_request(&backup, &name, key);
            let (api, session, busy, server_error, navigate, on_close, in_flight) = (
                api.clone(),
                session.clone(),
                busy.clone(),
                server_error.clone(),
                navigate.clone(),
                on_close.clone(),
                Rc::clone(&in_flight),
            );
            yew::platform::spawn_local(async move {
                let result = api.create_store(request).await;
                in_flight.set(false);
                match result {
                    Ok(store) => {
                        on_close.emit(());
                        navigate.emit(Route::Store(store.name));
                    }
                    Err(ApiError::Unauthenticated(why)) => {
                        busy.set(false);
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        busy.set(false);
                        // A name violation in its words, else the message.
                        let about_name = err
                            .violations()
                            .iter()
                            .find(|v| v.field == "name")
                            .map(|v| v.description.clone());
                        server_error.set(Some(about_name.unwrap_or_else(|| err.to_string())));
                        browser::focus_id("clone-name");
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
        <Dialog title="Clone into a new store" on_close={props.on_close.clone()}>
            <form class="dialog__body" {onsubmit} novalidate=true>
                <p id="clone-note">
                    { "A new " }<strong>{ props.source.engine.clone() }</strong>{ " store is provisioned with the configuration " }<strong>{ props.source.name.clone() }</strong>
                    { " had when the backup of " }<strong>{ taken_at(&props.backup) }</strong>
                    { " was taken, then gets that backup's data; it becomes Ready once restored. " }{ props.source.name.clone() }{ " is not touched." }
                </p>
                <div class={classes!("field", name_error.is_some().then_some("field--invalid"))}>
                    <label for="clone-name" class="field__label">{ "New store name" }</label>
                    <input id="clone-name" class="input" type="text" value={(*name).clone()} {oninput}
                           autocomplete="off" spellcheck="false" autocapitalize="none" disabled={*busy}
                           maxlength={validate::NAME_MAX_LEN.to_string()}
                           aria-invalid={name_error.is_some().then_some("true")}
                           aria-describedby="clone-name-hint" />
                    if let Some(err) = name_error {
                        <p id="clone-name-error" class="field__error" aria-live="polite">{ err }</p>
                    }
                    <p id="clone-name-hint" class="field__hint">
                        { format!("{} to {} lowercase letters, digits and '-'.", validate::NAME_MIN_LEN, validate::NAME_MAX_LEN) }
                    </p>
                </div>
                <div class="dialog__actions">
                    <button type="button" class="button button--ghost" onclick={cancel}>{ "Cancel" }</button>
                    <button type="submit" class="button button--primary" disabled={*busy} aria-describedby="clone-note">
                        if *busy { <span class="spinner" aria-hidden="true"></span>{ "Creating…" } } else { { "Create clone" } }
                    </button>
                </div>
            </form>
        </Dialog>
    }
}
