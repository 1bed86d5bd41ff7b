//! The store page's backups: the list (refetched when the watched store's
//! operation starts or ends, not on a timer), Back up now, and per
//! succeeded backup Restore (behind a dialog, with the etag), Clone (a new
//! store from it) and Delete (behind a dialog); the scheduled backups; the
//! server's refusal next to the action it refused.

use std::{cell::Cell, future::Future, rc::Rc};

use storeplane_proto::v1::{Backup, BackupPhase, Engine, Store, StorePhase};
use yew::prelude::*;

use crate::{
    api::{Api, ApiError},
    browser,
    components::{Dialog, RelativeTime},
    hooks::{
        Load, SessionContext, report_unauthenticated, use_api, use_load, use_route, use_session,
    },
    route::Route,
    state::{
        BackupsAction, BackupsCard,
        backups::{
            RESTORE, Request, backup_blocked, clone_request, describe_schedule, engine_can,
            human_size, newest_first, phase_names, schedule_of, short_digest, trigger_label,
        },
    },
    time, validate,
};

/// Properties of [`Backups`].
#[derive(Properties, PartialEq)]
pub(super) struct BackupsProps {
    /// The store, as the watch last reported it.
    pub store: Store,
    /// Its engine (it lists `backup`: the page shows the card only then).
    pub engine: Option<Engine>,
}

/// Which confirmation or form is open, for which backup.
#[derive(Clone, PartialEq)]
enum Open {
    Restore(Backup),
    Clone(Backup),
    Delete(Backup),
}

/// The backup's creation time in the reader's locale ("the backup of …").
fn taken_at(backup: &Backup) -> String {
    time::timestamp_ms(backup.create_time.as_ref())
        .map(time::exact)
        .unwrap_or_else(|| "an unknown time".to_owned())
}

/// What the card's calls need: the API, the session (to sign out on
/// UNAUTHENTICATED), the card, and a flag set synchronously (two clicks
/// can land before a button re-renders as busy).
#[derive(Clone)]
struct Calls {
    api: Api,
    session: SessionContext,
    card: UseReducerDispatcher<BackupsCard>,
    in_flight: Rc<Cell<bool>>,
}

impl Calls {
    /// Runs one call for `request`: `Accepted` (then `after`) when the
    /// server takes it, its refusal in the card otherwise. `etag` is the
    /// store's as shown.
    fn perform<T, Fut>(
        &self,
        request: Request,
        etag: String,
        after: Callback<()>,
        call: impl FnOnce(Api) -> Fut + 'static,
    ) where
        T: 'static,
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        if self.in_flight.replace(true) {
            return;
        }
        self.card.dispatch(BackupsAction::Send(request));
        let Self {
            api,
            session,
            card,
            in_flight,
        } = self.clone();
        yew::platform::spawn_local(async move {
            let result = call(api.clone()).await;
            in_flight.set(false);
            match result {
                Ok(_) => {
                    card.dispatch(BackupsAction::Accepted { etag });
                    after.emit(());
                }
                Err(ApiError::Unauthenticated(why)) => {
                    card.dispatch(BackupsAction::Failed(why.clone()));
                    report_unauthenticated(&session, &api, why);
                }
                Err(err) => card.dispatch(BackupsAction::Failed(err.to_string())),
            }
        });
    }
}

#[function_component]
pub(super) fn Backups(props: &BackupsProps) -> Html {
    let api = use_api();
    let session = use_session();
    let card = use_reducer(BackupsCard::default);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let open = use_state(|| None::<Open>);
    let store = &props.store;

    // Live without polling: fetched again when the watch reports the
    // store's operation starting or ending (a backup taken or restored,
    // scheduled ones too), and after a deletion this card made.
    let backups = use_load(
        (store.id.clone(), store.operation.clone(), card.revision),
        |api, (id, _, _)| async move { api.list_backups(&id).await },
    );

    let ctx = Calls {
        api,
        session,
        card: card.dispatcher(),
        in_flight,
    };
    let close = {
        let open = open.clone();
        Callback::from(move |()| open.set(None))
    };
    let under_way = card.under_way(store);
    let blocked = backup_blocked(store);
    let can_restore = engine_can(props.engine.as_ref(), RESTORE);
    let busy = card.in_flight.clone();

    let back_up = {
        let (ctx, id, etag) = (ctx.clone(), store.id.clone(), store.etag.clone());
        Callback::from(move |_: MouseEvent| {
            let id = id.clone();
            ctx.perform(
                Request::Create,
                etag.clone(),
                Callback::noop(),
                move |api| async move { api.create_backup(&id).await },
            );
        })
    };

    let list = match &*backups {
        Load::Loading => {
            html! { <p class="muted"><span class="spinner" aria-hidden="true"></span>{ "Loading backups…" }</p> }
        }
        Load::Failed(err) => {
            html! { <p class="alert alert--error" role="alert">{ format!("Cannot list the backups: {err}") }</p> }
        }
        Load::Ready((list, _)) if list.is_empty() => {
            html! { <p class="muted" data-backups-empty="true">{ "No backups yet." }</p> }
        }
        Load::Ready((list, more)) => {
            let row = |backup: &Backup| {
                let show = |which: fn(Backup) -> Open| {
                    let (open, backup) = (open.clone(), backup.clone());
                    Callback::from(move |_: MouseEvent| open.set(Some(which(backup.clone()))))
                };
                let (slug, label) = phase_names(backup.phase());
                let succeeded = backup.phase() == BackupPhase::Succeeded;
                let finished =
                    matches!(backup.phase(), BackupPhase::Succeeded | BackupPhase::Failed);
                let in_use = store
                    .operation
                    .as_ref()
                    .is_some_and(|o| o.backup_id == backup.id);
                let restore = Request::Restore(backup.id.clone());
                let delete = Request::Delete(backup.id.clone());
                let dialog_open = open.is_some();
                let row_error = (!dialog_open)
                    .then(|| card.error(&restore).or_else(|| card.error(&delete)))
                    .flatten();
                html! {
                    <li class="backup" key={backup.id.clone()} data-backup={backup.id.clone()} data-backup-phase={slug}>
                        <div class="backup__head">
                            <span class="backup__time"><RelativeTime at={backup.create_time} /></span>
                            <span class="backup__trigger muted">{ trigger_label(backup.trigger()) }</span>
                            <span class={classes!("badge", format!("badge--backup-{slug}"), (!finished).then_some("badge--busy"))}>
                                <span class="badge__dot" aria-hidden="true"></span>{ label }
                            </span>
                            if succeeded {
                                <span class="backup__size" title={format!("{} bytes", backup.size_bytes)}>{ human_size(backup.size_bytes) }</span>
                                <code class="backup__sha" title={format!("SHA-256 {}", backup.sha256)}>{ short_digest(&backup.sha256) }</code>
                            }
                        </div>
                        if backup.phase() == BackupPhase::Failed {
                            <p class="backup__failure">
                                if !backup.failure_reason.is_empty() { <strong>{ backup.failure_reason.clone() }</strong>{ " " } }
                                { backup.message.clone() }
                            </p>
                        }
                        <div class="backup__actions">
                            if succeeded && can_restore {
                                <button type="button" class="button button--small" onclick={show(Open::Restore)}
                                        disabled={under_way.is_some() || busy.is_some()} aria-haspopup="dialog">{ "Restore" }</button>
                                <button type="button" class="button button--small" onclick={show(Open::Clone)}
                                        aria-haspopup="dialog">{ "Clone" }</button>
                            }
                            if finished {
                                <button type="button" class="button button--ghost button--small" onclick={show(Open::Delete)}
                                        disabled={in_use || busy.is_some()} aria-haspopup="dialog"
                                        aria-label={format!("Delete the backup of {}", taken_at(backup))}>{ "Delete" }</button>
                            }
                        </div>
                        if let Some(err) = row_error {
                            <p class="field__error" role="alert">{ err.to_owned() }</p>
                        }
                    </li>
                }
            };
            html! {
                <>
                    <ul class="backups">{ for newest_first(list.clone()).iter().map(row) }</ul>
                    if *more { <p class="field__hint">{ "Only the newest backups are shown." }</p> }
                </>
            }
        }
    };

    let dialog = match &*open {
        None => Html::default(),
        Some(Open::Restore(backup)) => {
            let request = Request::Restore(backup.id.clone());
            let onsubmit = {
                let (ctx, close) = (ctx.clone(), close.clone());
                let (name, etag, id) = (store.name.clone(), store.etag.clone(), backup.id.clone());
                let request = request.clone();
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    let (name, id, sent_etag) = (name.clone(), id.clone(), etag.clone());
                    ctx.perform(
                        request.clone(),
                        etag.clone(),
                        close.clone(),
                        move |api| async move { api.restore_store(&name, &id, &sent_etag).await },
                    );
                })
            };
            confirm_dialog(
                format!("Restore {}?", store.name),
                html! {
                    <p id="restore-warning">
                        { "This replaces this store's data with the backup of " }<strong>{ taken_at(backup) }</strong>
                        { ": products, orders, customers and settings made since then are lost. The store keeps running while it is restored." }
                    </p>
                },
                "Restore",
                "Restoring…",
                busy.as_ref() == Some(&request),
                card.error(&request),
                onsubmit,
                close.clone(),
            )
        }
        Some(Open::Delete(backup)) => {
            let request = Request::Delete(backup.id.clone());
            let onsubmit = {
                let (ctx, close, id) = (ctx.clone(), close.clone(), backup.id.clone());
                let (request, etag) = (request.clone(), store.etag.clone());
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    let id = id.clone();
                    ctx.perform(
                        request.clone(),
                        etag.clone(),
                        close.clone(),
                        move |api| async move { api.delete_backup(&id).await },
                    );
                })
            };
            confirm_dialog(
                "Delete this backup?".to_owned(),
                html! {
                    <p id="delete-backup-warning">
                        { "The backup of " }<strong>{ taken_at(backup) }</strong>
                        { " and its archive are removed for good: it can no longer be restored or cloned." }
                    </p>
                },
                "Delete backup",
                "Deleting…",
                busy.as_ref() == Some(&request),
                card.error(&request),
                onsubmit,
                close.clone(),
            )
        }
        Some(Open::Clone(backup)) => html! {
            <CloneDialog source={store.clone()} backup={backup.clone()} on_close={close.clone()} />
        },
    };

    html! {
        <section class="card" aria-labelledby="backups-title" data-backups="">
            <div class="card__head">
                <h2 id="backups-title" class="card__title">{ "Backups" }</h2>
                <button type="button" class="button" id="backup-now" onclick={back_up}
                        disabled={blocked.is_some() || busy.is_some() || under_way.is_some()}
                        aria-busy={(busy == Some(Request::Create)).then_some("true")}>
                    if busy == Some(Request::Create) { <span class="spinner" aria-hidden="true"></span>{ "Starting…" } } else { { "Back up now" } }
                </button>
            </div>
            if let Some(op) = under_way {
                <p class="transition" role="status" data-operation={op.slug()}>
                    <span class="spinner" aria-hidden="true"></span>{ op.label() }
                </p>
            } else if let Some(why) = blocked {
                <p class="field__hint">{ why }</p>
            }
            if let Some(err) = card.error(&Request::Create) {
                <p class="alert alert--error" role="alert" id="backup-now-error">{ format!("No backup was started: {err}") }</p>
            }
            { list }
            { schedule(store, &card, &ctx) }
            { dialog }
        </section>
    }
}

/// A confirmation dialog whose submit button does the thing.
#[allow(clippy::too_many_arguments)]
fn confirm_dialog(
    title: String,
    body: Html,
    action: &'static str,
    busy_label: &'static str,
    busy: bool,
    error: Option<&str>,
    onsubmit: Callback<SubmitEvent>,
    on_close: Callback<()>,
) -> Html {
    let cancel = {
        let on_close = on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <Dialog {title} {on_close} alert=true>
            <form class="dialog__body" {onsubmit} novalidate=true>
                { body }
                if let Some(err) = error {
                    <p class="alert alert--error" role="alert">{ err.to_owned() }</p>
                }
                <div class="dialog__actions">
                    <button type="button" class="button button--ghost" onclick={cancel}>{ "Cancel" }</button>
                    <button type="submit" class="button button--danger" disabled={busy}>
                        if busy { <span class="spinner" aria-hidden="true"></span>{ busy_label } } else { { action } }
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

/// The scheduled backups: shown, edited in place, removed.
fn schedule(store: &Store, card: &UseReducerHandle<BackupsCard>, ctx: &Calls) -> Html {
    let current = schedule_of(store).cloned();
    let editable = store.phase() != StorePhase::Deleting;
    let saving = card.in_flight == Some(Request::Schedule);
    let send = {
        let (ctx, name, etag) = (ctx.clone(), store.name.clone(), store.etag.clone());
        Callback::from(
            move |schedule: Option<storeplane_proto::v1::BackupSchedule>| {
                let (name, sent_etag) = (name.clone(), etag.clone());
                ctx.perform(
                    Request::Schedule,
                    etag.clone(),
                    Callback::noop(),
                    move |api| async move {
                        api.set_store_backup_schedule(&name, schedule, &sent_etag)
                            .await
                    },
                );
            },
        )
    };
    let edit = {
        let (card, current) = (card.dispatcher(), current.clone());
        Callback::from(move |_: MouseEvent| card.dispatch(BackupsAction::Edit(current.clone())))
    };
    let remove = {
        let send = send.clone();
        Callback::from(move |_: MouseEvent| send.emit(None))
    };
    let error = card.error(&Request::Schedule).map(|e| {
        html! { <p class="alert alert--error" role="alert" id="schedule-error">{ format!("The schedule was not changed: {e}") }</p> }
    });

    let Some(form) = card.editing.clone() else {
        return html! {
            <div class="backup-schedule" data-schedule={if current.is_some() { "set" } else { "none" }}>
                <h3 class="backup-schedule__title">{ "Scheduled backups" }</h3>
                <p id="schedule-summary">
                    if let Some(s) = &current { <code>{ describe_schedule(s) }</code> }
                    else { <span class="muted">{ "None: backups are taken only when you ask." }</span> }
                </p>
                if editable {
                    <div class="backup__actions">
                        <button type="button" class="button button--small" onclick={edit} disabled={saving}>
                            { if current.is_some() { "Edit schedule" } else { "Set a schedule" } }
                        </button>
                        if current.is_some() {
                            <button type="button" class="button button--ghost button--small" onclick={remove} disabled={saving}>
                                if saving { <span class="spinner" aria-hidden="true"></span>{ "Removing…" } } else { { "Remove schedule" } }
                            </button>
                        }
                    </div>
                }
                { error }
            </div>
        };
    };

    let errors = form.errors();
    let shown = |field: &str| errors.get(field).filter(|_| form.attempted).cloned();
    let (cron_error, retention_error) = (shown("cron"), shown("retention"));
    let on_cron = {
        let card = card.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            card.dispatch(BackupsAction::SetCron(input.value()));
        })
    };
    let on_retention = {
        let card = card.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            card.dispatch(BackupsAction::SetRetention(input.value()));
        })
    };
    let onsubmit = {
        let (card, send, form) = (card.dispatcher(), send.clone(), form.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // An empty cron removes the schedule, as the API has it.
            if form.cron.trim().is_empty() {
                send.emit(None);
                return;
            }
            match form.schedule() {
                Some(schedule) => send.emit(Some(schedule)),
                None => {
                    card.dispatch(BackupsAction::Attempted);
                    let first = if form.errors().contains_key("cron") {
                        "schedule-cron"
                    } else {
                        "schedule-retention"
                    };
                    browser::focus_id(first);
                }
            }
        })
    };
    let cancel = {
        let card = card.dispatcher();
        Callback::from(move |_: MouseEvent| card.dispatch(BackupsAction::CancelEdit))
    };
    html! {
        <form class="backup-schedule" data-schedule="editing" {onsubmit} novalidate=true>
            <h3 class="backup-schedule__title">{ "Scheduled backups" }</h3>
            <div class={classes!("field", cron_error.is_some().then_some("field--invalid"))}>
                <label for="schedule-cron" class="field__label">{ "When (cron, UTC)" }</label>
                <input id="schedule-cron" class="input mono" type="text" value={form.cron.clone()}
                       placeholder="0 3 * * *" autocomplete="off" spellcheck="false" disabled={saving}
                       oninput={on_cron} aria-invalid={cron_error.is_some().then_some("true")}
                       aria-describedby="schedule-cron-hint" />
                if let Some(err) = cron_error {
                    <p id="schedule-cron-error" class="field__error" aria-live="polite">{ err }</p>
                }
                <p id="schedule-cron-hint" class="field__hint">
                    { "Five fields: minute, hour, day of month, month, day of week. " }<code>{ "0 3 * * *" }</code>{ " is daily at 03:00 UTC. Empty removes the schedule." }
                </p>
            </div>
            <div class={classes!("field", retention_error.is_some().then_some("field--invalid"))}>
                <label for="schedule-retention" class="field__label">{ "Scheduled backups to keep" }</label>
                <input id="schedule-retention" class="input" type="number" min="1" max="100" inputmode="numeric"
                       value={form.retention.clone()} placeholder="7" disabled={saving} oninput={on_retention}
                       aria-invalid={retention_error.is_some().then_some("true")} />
                if let Some(err) = retention_error {
                    <p id="schedule-retention-error" class="field__error" aria-live="polite">{ err }</p>
                }
                <p class="field__hint">{ "The oldest scheduled backups beyond this are deleted; manual ones never are." }</p>
            </div>
            { error }
            <div class="backup__actions">
                <button type="submit" class="button button--primary button--small" disabled={saving}>
                    if saving { <span class="spinner" aria-hidden="true"></span>{ "Saving…" } } else { { "Save schedule" } }
                </button>
                <button type="button" class="button button--ghost button--small" onclick={cancel} disabled={saving}>{ "Cancel" }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct CloneProps {
    source: Store,
    backup: Backup,
    on_close: Callback<()>,
}

/// A new store from a backup: its name (the create form's rule, in the
/// server's words), then CreateStore with `from_backup` and off to its page.
#[function_component]
fn CloneDialog(props: &CloneProps) -> Html {
    let api = use_api();
    let session = use_session();
    let navigate = use_route().navigate;
    let name = use_state(String::new);
    let attempted = use_state(|| false);
    let busy = use_state(|| false);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let server_error = use_state(|| None::<String>);
    // One idempotency key per dialog: a retried submission of the same
    // name cannot create a second store.
    let request_id = use_memo((), |()| browser::random_uuid());

    let client_error = validate::store_name(name.trim())
        .err()
        .map(|e| e.to_string());
    let name_error = (*server_error).clone().or_else(|| {
        (*attempted || !name.is_empty())
            .then(|| client_error.clone())
            .flatten()
    });

    let oninput = {
        let (name, server_error) = (name.clone(), server_error.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            name.set(input.value());
            server_error.set(None);
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
        let (name, source, backup) = (name.clone(), props.source.clone(), props.backup.clone());
        let (request_id, on_close) = ((*request_id).clone(), props.on_close.clone());
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
            let request = clone_request(&source, &backup, &name, request_id.clone());
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
                    { "A new " }<strong>{ props.source.engine.clone() }</strong>{ " store with " }<strong>{ props.source.name.clone() }</strong>
                    { "'s configuration is provisioned, then gets the data of the backup of " }<strong>{ taken_at(&props.backup) }</strong>
                    { ". It becomes Ready once restored; " }{ props.source.name.clone() }{ " is not touched." }
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
