//! The store page's backups: the list (refetched when the watched store's
//! operation starts or ends, not on a timer), Back up now, and per
//! succeeded backup Restore (behind a dialog, with the etag), Clone (a new
//! store from it) and Delete (behind a dialog); the scheduled backups; the
//! server's refusal next to the action it refused. The schedule and the
//! clone form are in `schedule.rs` and `clone.rs`.

mod clone;
mod schedule;

use std::{cell::Cell, future::Future, rc::Rc};

use storeplane_proto::v1::{Backup, BackupPhase, Engine, Store};
use yew::prelude::*;

use self::{clone::CloneDialog, schedule::schedule};
use crate::{
    api::{Api, ApiError},
    components::{Dialog, RelativeTime},
    hooks::{Load, SessionContext, report_unauthenticated, use_api, use_load, use_session},
    state::{
        BackupsAction, BackupsCard,
        backups::{
            RESTORE, Request, backup_blocked, engine_can, human_size, newest_first, phase_names,
            short_digest, trigger_label,
        },
    },
    time,
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
