//! The store page's custom domains: the list with the DNS record each
//! needs, add and remove (one `SetStoreCustomDomains` call each, with the
//! etag), client-side checks in the server's words and the server's
//! verdict next to the domain it names.

use std::{cell::Cell, rc::Rc};

use storeplane_proto::v1::{Engine, Store, StorePhase};
use yew::prelude::*;

use crate::{
    api::ApiError,
    browser,
    hooks::{report_unauthenticated, use_api, use_session},
    state::{
        DomainChange, DomainsAction, DomainsForm,
        domains::{conflict_violation, dns_record, engine_serves_domains},
    },
    validate::MAX_CUSTOM_DOMAINS,
};

/// Properties of [`CustomDomains`].
#[derive(Properties, PartialEq)]
pub(super) struct CustomDomainsProps {
    /// The store, as the watch last reported it.
    pub store: Store,
    /// Its engine, when the engines are known (`None`: unknown, the
    /// server decides).
    pub engine: Option<Engine>,
}

#[function_component]
pub(super) fn CustomDomains(props: &CustomDomainsProps) -> Html {
    let store = &props.store;
    if !engine_serves_domains(props.engine.as_ref()) {
        let api = props
            .engine
            .as_ref()
            .map(|e| e.plugin_api.clone())
            .unwrap_or_default();
        return html! {
            <section class="card" aria-labelledby="domains-title" data-domains="unsupported">
                <h2 id="domains-title" class="card__title">{ "Custom domains" }</h2>
                <p class="muted">
                    { format!("{} stores are served at their platform address only: the engine's plugin is built against plugin API {api}, and custom domains need 0.2 or later.", store.engine) }
                </p>
            </section>
        };
    }
    html! { <DomainsEditor store={store.clone()} /> }
}

#[derive(Properties, PartialEq)]
struct EditorProps {
    store: Store,
}

#[function_component]
fn DomainsEditor(props: &EditorProps) -> Html {
    let api = use_api();
    let session = use_session();
    let form = use_reducer(DomainsForm::default);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let store = &props.store;
    let base_domain = session
        .server()
        .map(|i| i.base_domain.clone())
        .unwrap_or_default();
    let current = store.custom_domains.clone();
    let editable = store.phase() != StorePhase::Deleting;

    // One change: the whole list with it applied, with the etag of the
    // store as shown.
    let send = {
        let (api, session, form, in_flight) = (
            api.clone(),
            session.clone(),
            form.dispatcher(),
            Rc::clone(&in_flight),
        );
        let (name, etag, current) = (store.name.clone(), store.etag.clone(), current.clone());
        Callback::from(move |change: DomainChange| {
            // Two clicks can land before the re-render disables the button.
            if in_flight.replace(true) {
                return;
            }
            let sent = change.apply(&current);
            form.dispatch(DomainsAction::Saving(change));
            let (api, session, form, in_flight) = (
                api.clone(),
                session.clone(),
                form.clone(),
                Rc::clone(&in_flight),
            );
            let (name, etag) = (name.clone(), etag.clone());
            yew::platform::spawn_local(async move {
                let result = api
                    .set_store_custom_domains(&name, sent.clone(), &etag)
                    .await;
                in_flight.set(false);
                match result {
                    // The watch brings the new list.
                    Ok(_) => form.dispatch(DomainsAction::Saved),
                    Err(ApiError::Unauthenticated(why)) => {
                        form.dispatch(DomainsAction::Failed {
                            sent,
                            message: why.clone(),
                            violations: vec![],
                        });
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        let violations = match conflict_violation(&err, &sent) {
                            Some(taken) => vec![taken],
                            None => err.violations().to_vec(),
                        };
                        form.dispatch(DomainsAction::Failed {
                            sent,
                            message: err.to_string(),
                            violations,
                        });
                    }
                }
            });
        })
    };

    let oninput = {
        let form = form.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            form.dispatch(DomainsAction::SetInput(input.value()));
        })
    };
    let onsubmit = {
        let (form, send, current, base) = (
            form.clone(),
            send.clone(),
            current.clone(),
            base_domain.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.saving.is_some() {
                return;
            }
            if form.client_error(&current, &base).is_some() {
                form.dispatch(DomainsAction::Attempted);
                browser::focus_id("domain-input");
                return;
            }
            send.emit(DomainChange::Add(form.domain()));
        })
    };

    let saving = form.saving.clone();
    let adding = matches!(saving, Some(DomainChange::Add(_)));
    let full = current.len() >= MAX_CUSTOM_DOMAINS;
    let input_error = form.input_message(&current, &base_domain);
    let described = if input_error.is_some() {
        "domain-input-error domain-input-hint"
    } else {
        "domain-input-hint"
    };

    let row = |domain: &String| {
        let removing = saving == Some(DomainChange::Remove(domain.clone()));
        let remove = {
            let (send, domain) = (send.clone(), domain.clone());
            Callback::from(move |_: MouseEvent| send.emit(DomainChange::Remove(domain.clone())))
        };
        let record = dns_record(domain, &store.name, &base_domain);
        html! {
            <li class="domain" key={domain.clone()} data-domain={domain.clone()}>
                <div class="domain__head">
                    <span class="domain__name mono">{ domain.clone() }</span>
                    if editable {
                        <button type="button" class="button button--ghost button--small" onclick={remove}
                                disabled={saving.is_some()} aria-label={format!("Remove {domain}")}>
                            if removing { <span class="spinner" aria-hidden="true"></span>{ "Removing…" } } else { { "Remove" } }
                        </button>
                    }
                </div>
                if let Some(record) = record {
                    <p class="domain__dns">
                        <span class="muted">{ "DNS record: " }</span>
                        <code class="dns-record">{ format!("CNAME {} → {}", record.name, record.target) }</code>
                        if record.apex {
                            <span class="domain__apex">{ " An apex domain cannot have a CNAME: create an ALIAS or ANAME record to the same target." }</span>
                        }
                    </p>
                }
                if let Some(err) = form.errors.get(domain) {
                    <p class="field__error" role="alert">{ err.clone() }</p>
                }
            </li>
        }
    };

    html! {
        <section class="card" aria-labelledby="domains-title" data-domains="editable">
            <h2 id="domains-title" class="card__title">{ "Custom domains" }</h2>
            if current.is_empty() {
                <p class="muted">{ "None yet: the store is served at its platform address only." }</p>
            } else {
                <ul class="domains">{ for current.iter().map(row) }</ul>
                if base_domain.is_empty() {
                    <p class="field__hint">{ "This server runs without a cluster: it has no address to point DNS records at." }</p>
                } else {
                    <p class="field__hint">
                        { "Create each record with your domain's DNS provider; the store answers at the domain once the record resolves. An apex domain (such as " }
                        <code>{ "example.com" }</code>{ " itself) cannot have a CNAME: use an ALIAS or ANAME record to " }
                        <code>{ format!("{}.{}", store.name, base_domain.trim_matches('.')) }</code>{ " instead." }
                    </p>
                }
            }
            if let Some(err) = &form.form_error {
                <p class="alert alert--error" role="alert" id="domains-error">{ format!("The domains were not changed: {err}") }</p>
            }
            if editable {
                <form class="domains__add" {onsubmit} novalidate=true>
                    <div class={classes!("field", input_error.is_some().then_some("field--invalid"))}>
                        <label for="domain-input" class="field__label">{ "Add a domain" }</label>
                        <div class="domains__row">
                            <input id="domain-input" class="input" type="text" value={form.input.clone()}
                                   autocomplete="off" spellcheck="false" autocapitalize="none"
                                   placeholder="shop.example.com" disabled={adding || full} {oninput}
                                   aria-invalid={input_error.is_some().then_some("true")}
                                   aria-describedby={described} />
                            <button type="submit" class="button" disabled={saving.is_some() || full}
                                    aria-busy={adding.then_some("true")}>
                                if adding { <span class="spinner" aria-hidden="true"></span>{ "Adding…" } } else { { "Add domain" } }
                            </button>
                        </div>
                        if let Some(err) = input_error {
                            <p id="domain-input-error" class="field__error" aria-live="polite">{ err }</p>
                        }
                        <p id="domain-input-hint" class="field__hint">
                            if full {
                                { format!("A store has at most {MAX_CUSTOM_DOMAINS} custom domains: remove one to add another.") }
                            } else {
                                { "A host name you own, such as shop.example.com." }
                            }
                        </p>
                    </div>
                </form>
            }
        </section>
    }
}
