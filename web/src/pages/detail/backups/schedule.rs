//! The backups card's schedule: shown, edited in place (the cron's shape
//! and the retention checked before sending), removed.

use storeplane_proto::v1::{BackupSchedule, Store, StorePhase};
use yew::prelude::*;

use super::Calls;
use crate::{
    browser,
    state::{
        BackupsAction, BackupsCard,
        backups::{Request, describe_schedule, schedule_of},
    },
};

/// The scheduled backups: shown, edited in place, removed.
pub(super) fn schedule(store: &Store, card: &UseReducerHandle<BackupsCard>, ctx: &Calls) -> Html {
    let current = schedule_of(store).cloned();
    let editable = store.phase() != StorePhase::Deleting;
    let saving = card.in_flight == Some(Request::Schedule);
    let send = {
        let (ctx, name, etag) = (ctx.clone(), store.name.clone(), store.etag.clone());
        Callback::from(move |schedule: Option<BackupSchedule>| {
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
        })
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
