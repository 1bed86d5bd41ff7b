//! The audit log: who did what, when, with what outcome (newest first).

use storeplane_proto::v1::AuditEntry;
use yew::prelude::*;

use crate::{
    api::{ApiError, Result as ApiResult, struct_to_json},
    components::RelativeTime,
    hooks::{report_unauthenticated, use_api, use_session},
};

/// Entries per page.
const PAGE_SIZE: i32 = 50;

#[derive(Debug, Clone, PartialEq, Default)]
struct Log {
    entries: Vec<AuditEntry>,
    next_page_token: String,
    loading: bool,
    error: Option<String>,
    loaded: bool,
}

/// The audit page.
#[function_component]
pub fn AuditPage() -> Html {
    let api = use_api();
    let session = use_session();
    let log = use_state(|| Log {
        loading: true,
        ..Log::default()
    });
    let fetch = {
        let (api, session, log) = (api.clone(), session.clone(), log.clone());
        Callback::from(move |page_token: String| {
            let (api, session, log) = (api.clone(), session.clone(), log.clone());
            let mut next = (*log).clone();
            next.loading = true;
            log.set(next.clone());
            yew::platform::spawn_local(async move {
                let page: ApiResult<_> = api.list_audit_entries(PAGE_SIZE, &page_token).await;
                next.loading = false;
                next.loaded = true;
                match page {
                    Ok(page) => {
                        if page_token.is_empty() {
                            next.entries.clear();
                        }
                        next.entries.extend(page.entries);
                        next.next_page_token = page.next_page_token;
                        next.error = None;
                    }
                    Err(ApiError::Unauthenticated(why)) => {
                        report_unauthenticated(&session, &api, why)
                    }
                    Err(err) => next.error = Some(err.to_string()),
                }
                log.set(next);
            });
        })
    };
    {
        let fetch = fetch.clone();
        use_effect_with(api, move |_| fetch.emit(String::new()));
    }
    let more = {
        let (fetch, token) = (fetch.clone(), log.next_page_token.clone());
        Callback::from(move |_: MouseEvent| fetch.emit(token.clone()))
    };
    let refresh = Callback::from(move |_: MouseEvent| fetch.emit(String::new()));

    html! {
        <section class="page" aria-labelledby="page-title">
            <header class="page__head">
                <div>
                    <h1 id="page-title">{ "Audit log" }</h1>
                    <p class="muted" aria-live="polite">
                        { if log.loaded { format!("{} entries shown, newest first", log.entries.len()) } else { "Loading…".to_owned() } }
                    </p>
                </div>
                <button type="button" class="button" onclick={refresh} disabled={log.loading}>{ "Refresh" }</button>
            </header>
            if let Some(err) = &log.error {
                <p class="alert alert--error" role="alert">{ err.clone() }</p>
            }
            if log.loaded && log.entries.is_empty() && log.error.is_none() {
                <div class="empty card"><h2>{ "Nothing recorded yet" }</h2>
                    <p class="muted">{ "Every create, delete, retry and administrative call is recorded here." }</p></div>
            } else if !log.entries.is_empty() {
                <div class="card card--flush">
                    <table class="table table--audit">
                        <thead>
                            <tr>
                                <th scope="col">{ "When" }</th>
                                <th scope="col">{ "Action" }</th>
                                <th scope="col">{ "Resource" }</th>
                                <th scope="col">{ "Outcome" }</th>
                                <th scope="col">{ "Who" }</th>
                            </tr>
                        </thead>
                        <tbody>
                            { for log.entries.iter().map(entry_row) }
                        </tbody>
                    </table>
                </div>
            }
            if !log.next_page_token.is_empty() {
                <div class="center">
                    <button type="button" class="button" onclick={more} disabled={log.loading}>
                        { if log.loading { "Loading…" } else { "Load older entries" } }
                    </button>
                </div>
            }
        </section>
    }
}

fn entry_row(entry: &AuditEntry) -> Html {
    let method = entry
        .method
        .rsplit('/')
        .next()
        .unwrap_or(&entry.method)
        .to_owned();
    let ok = entry.outcome == "OK";
    let params = entry
        .parameters
        .as_ref()
        .map(struct_to_json)
        .filter(|p| !p.is_empty())
        .and_then(|p| serde_json::to_string_pretty(&p).ok());
    html! {
        <tr key={entry.id}>
            <td data-label="When"><RelativeTime at={entry.time} /></td>
            <td data-label="Action">
                <span class="mono">{ method }</span>
                if let Some(params) = params {
                    <details class="params">
                        <summary>{ "Parameters" }</summary>
                        <pre class="params__body">{ params }</pre>
                    </details>
                }
            </td>
            <td data-label="Resource"><span class="mono wrap">{ if entry.resource.is_empty() { "—".to_owned() } else { entry.resource.clone() } }</span></td>
            <td data-label="Outcome">
                <span class={classes!("outcome", if ok { "outcome--ok" } else { "outcome--error" })}
                      title={(!entry.message.is_empty()).then(|| entry.message.clone())}>
                    { entry.outcome.clone() }
                </span>
            </td>
            <td data-label="Who">
                <span>{ if entry.tenant.is_empty() { "anonymous".to_owned() } else { entry.tenant.clone() } }</span>
                <div class="table__sub">{ entry.client_address.clone() }</div>
            </td>
        </tr>
    }
}
