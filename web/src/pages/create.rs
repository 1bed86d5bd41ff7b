//! The create-store form: engine picker, name checked as you type, the
//! engine's config form generated from its JSON Schema, server violations
//! next to their fields, one idempotency key per submission.

use std::{cell::Cell, rc::Rc};

use storeplane_proto::v1::{CreateStoreRequest, Engine};
use yew::prelude::*;

use crate::{
    api::{ApiError, FieldViolation, json_to_struct},
    browser,
    components::{ConfigFields, Link},
    hooks::{Load, report_unauthenticated, use_api, use_load, use_route, use_session},
    route::Route,
    schema::ConfigSchema,
    state::{
        CreateForm, FormAction,
        domains::{conflict_violation, engine_serves_domains},
    },
    validate::{self, DOMAINS_FIELD, NAME_MAX_LEN, NAME_MIN_LEN},
};

/// The id of the control that shows `field`'s errors, to focus it.
fn control_id(field: &str) -> String {
    match field.strip_prefix("config.") {
        Some(key) => format!("config-{key}"),
        None if field == "engine" => "engine-0".to_owned(),
        None if field == DOMAINS_FIELD => "store-domains".to_owned(),
        None => "store-name".to_owned(),
    }
}

/// The create page.
#[function_component]
pub fn CreatePage() -> Html {
    let engines = use_load((), |api, ()| async move { api.list_engines().await });
    let form = use_reducer(CreateForm::default);
    let in_flight: Rc<Cell<bool>> = use_memo((), |()| Cell::new(false));
    let api = use_api();
    let session = use_session();
    let navigate = use_route().navigate;

    let engine_list: Vec<Engine> = engines.ready().cloned().unwrap_or_default();
    let selected = form
        .engine
        .as_ref()
        .and_then(|id| engine_list.iter().find(|e| &e.id == id))
        .cloned();
    let schema = use_memo(selected.as_ref().map(|e| e.config_schema.clone()), |text| {
        text.as_deref().map(ConfigSchema::parse)
    });
    let schema_ok: Option<ConfigSchema> = match schema.as_ref() {
        Some(Ok(s)) => Some(s.clone()),
        _ => None,
    };

    let select_engine = {
        let form = form.dispatcher();
        Callback::from(move |engine: Engine| {
            let defaults = ConfigSchema::parse(&engine.config_schema)
                .map(|s| s.initial_values())
                .unwrap_or_default();
            form.dispatch(FormAction::SelectEngine {
                engine: engine.id,
                defaults,
            });
        })
    };
    // Preselect the first engine once the list arrives: most platforms
    // have one or two, and an empty picker is one more click for nothing.
    {
        let select_engine = select_engine.clone();
        let first = engine_list.first().cloned();
        let has_engine = form.engine.is_some();
        use_effect_with(first, move |first| {
            if let (Some(engine), false) = (first.clone(), has_engine) {
                select_engine.emit(engine);
            }
        });
    }

    // Custom domains, when the chosen engine serves them, are checked
    // against the server's base domain as the server will.
    let base_domain = session
        .server()
        .map(|i| i.base_domain.clone())
        .unwrap_or_default();
    let domains_offered = selected.is_some() && engine_serves_domains(selected.as_ref());
    let client_errors = form.client_errors(
        schema_ok.as_ref(),
        domains_offered.then_some(base_domain.as_str()),
    );
    let error_for = |field: &str| form.error_for(field, &client_errors);

    let on_name = {
        let form = form.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            form.dispatch(FormAction::SetName(input.value()));
        })
    };
    let on_name_blur = {
        let form = form.dispatcher();
        Callback::from(move |_: FocusEvent| form.dispatch(FormAction::Touch("name".into())))
    };
    let on_domains = {
        let form = form.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            form.dispatch(FormAction::SetDomains(input.value()));
        })
    };
    let on_domains_blur = {
        let form = form.dispatcher();
        Callback::from(move |_: FocusEvent| form.dispatch(FormAction::Touch(DOMAINS_FIELD.into())))
    };
    let on_config = {
        let form = form.dispatcher();
        Callback::from(move |(key, value): (String, String)| {
            form.dispatch(FormAction::SetValue { key, value })
        })
    };
    let on_config_blur = {
        let form = form.dispatcher();
        Callback::from(move |field: String| form.dispatch(FormAction::Touch(field)))
    };

    let onsubmit = {
        let form = form.clone();
        let schema = schema_ok.clone();
        let in_flight = Rc::clone(&in_flight);
        let errors = client_errors.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // Two clicks can land before the button re-renders disabled;
            // this flag is checked and set synchronously.
            if in_flight.get() || form.submitting {
                return;
            }
            if let Some(first) = errors.keys().next() {
                form.dispatch(FormAction::Attempted);
                browser::focus_id(&control_id(first));
                return;
            }
            let (Some(engine), Some(schema)) = (form.engine.clone(), schema.as_ref()) else {
                return;
            };
            let Ok(config) = schema.to_config(&form.values) else {
                return;
            };
            let request_id = form.request_id.clone().unwrap_or_else(browser::random_uuid);
            let domains = if domains_offered {
                form.custom_domains()
            } else {
                Vec::new()
            };
            in_flight.set(true);
            form.dispatch(FormAction::Submit {
                request_id: request_id.clone(),
            });
            let request = CreateStoreRequest {
                name: form.name.clone(),
                engine,
                config: Some(json_to_struct(config)),
                request_id,
                tenant: String::new(),
                custom_domains: domains.clone(),
                ..CreateStoreRequest::default()
            };
            let (api, session, navigate) = (api.clone(), session.clone(), navigate.clone());
            let (dispatcher, in_flight) = (form.dispatcher(), Rc::clone(&in_flight));
            yew::platform::spawn_local(async move {
                let result = api.create_store(request).await;
                in_flight.set(false);
                match result {
                    Ok(store) => {
                        dispatcher.dispatch(FormAction::Succeeded);
                        navigate.emit(Route::Store(store.name));
                    }
                    Err(ApiError::Unauthenticated(why)) => {
                        dispatcher.dispatch(FormAction::Failed {
                            message: why.clone(),
                            violations: vec![],
                        });
                        report_unauthenticated(&session, &api, why);
                    }
                    Err(err) => {
                        let violations = match &err {
                            // A taken domain is about the domains field,
                            // a taken name about the name field.
                            ApiError::AlreadyExists { message, .. } => {
                                vec![
                                    conflict_violation(&err, &domains).unwrap_or(FieldViolation {
                                        field: "name".into(),
                                        description: message.clone(),
                                    }),
                                ]
                            }
                            other => other.violations().to_vec(),
                        };
                        let first = violations.first().map(|v| control_id(&v.field));
                        dispatcher.dispatch(FormAction::Failed {
                            message: err.to_string(),
                            violations,
                        });
                        match first {
                            Some(id) => browser::focus_id(&id),
                            None => browser::focus_id("form-error"),
                        }
                    }
                }
            });
        })
    };

    let name_error = error_for("name");
    let name_described = if name_error.is_some() {
        "store-name-error store-name-hint"
    } else {
        "store-name-hint"
    };
    let config_errors: std::collections::BTreeMap<String, String> = schema_ok
        .iter()
        .flat_map(|s| s.fields.iter())
        .filter_map(|f| {
            let path = format!("config.{}", f.key);
            error_for(&path).map(|e| (path, e))
        })
        .collect();
    let unplaced = form.unplaced_errors(schema_ok.as_ref());
    let submitting = form.submitting;

    let engines_view = match &*engines {
        Load::Loading => {
            html! { <p class="muted"><span class="spinner" aria-hidden="true"></span>{ "Loading engines…" }</p> }
        }
        Load::Failed(err) => {
            html! { <p class="alert alert--error" role="alert">{ format!("Cannot load the engines: {err}") }</p> }
        }
        Load::Ready(list) if list.is_empty() => html! {
            <p class="alert alert--warning">{ "This server offers no engines. Start it with " }<code>{ "--engines-file" }</code>{ "." }</p>
        },
        Load::Ready(list) => html! {
            <div class="engine-grid">
                { for list.iter().enumerate().map(|(i, engine)| {
                    let checked = form.engine.as_deref() == Some(engine.id.as_str());
                    let onchange = {
                        let select_engine = select_engine.clone();
                        let engine = engine.clone();
                        Callback::from(move |_: Event| select_engine.emit(engine.clone()))
                    };
                    html! {
                        <label class={classes!("engine-option", checked.then_some("engine-option--checked"))} key={engine.id.clone()}>
                            <input type="radio" name="engine" id={format!("engine-{i}")} value={engine.id.clone()}
                                   {checked} {onchange} disabled={submitting} class="engine-option__radio" />
                            <span class="engine-option__name">
                                { if engine.display_name.is_empty() { engine.id.clone() } else { engine.display_name.clone() } }
                                if !engine.version.is_empty() { <span class="engine-option__version">{ format!("v{}", engine.version) }</span> }
                            </span>
                            <span class="engine-option__desc">{ engine.description.clone() }</span>
                        </label>
                    }
                }) }
            </div>
        },
    };

    html! {
        <section class="page page--narrow" aria-labelledby="page-title">
            <header class="page__head">
                <div>
                    <Link to={Route::Stores} class="back-link">{ "← Stores" }</Link>
                    <h1 id="page-title">{ "Create store" }</h1>
                    <p class="muted">{ "A new shop on its own namespace, with its own address, database and secrets." }</p>
                </div>
            </header>
            <form class="card form" onsubmit={onsubmit} novalidate=true aria-describedby={form.form_error.as_ref().map(|_| "form-error")}>
                if let Some(message) = &form.form_error {
                    <div id="form-error" class="alert alert--error" role="alert" tabindex="-1">
                        <strong>{ "The store was not created. " }</strong>
                        if form.server_errors.is_empty() {
                            { message.clone() }
                        } else if unplaced.len() < form.server_errors.len() {
                            { "Fix the fields marked below and try again." }
                        }
                        if !unplaced.is_empty() {
                            <ul>
                                { for unplaced.iter().map(|(f, m)| html! { <li><code>{ f.clone() }</code>{ format!(": {m}") }</li> }) }
                            </ul>
                        }
                    </div>
                }
                <fieldset class="fieldset" disabled={submitting}>
                    <legend class="fieldset__legend">{ "Engine" }</legend>
                    { engines_view }
                    if let Some(err) = error_for("engine") {
                        <p class="field__error">{ err }</p>
                    }
                </fieldset>
                <div class={classes!("field", name_error.is_some().then_some("field--invalid"))}>
                    <label for="store-name" class="field__label">{ "Store name" }</label>
                    <input id="store-name" name="name" class="input" type="text" value={form.name.clone()}
                           autocomplete="off" spellcheck="false" autocapitalize="none" required=true
                           placeholder="corner-shop" maxlength="63" disabled={submitting}
                           oninput={on_name} onblur={on_name_blur}
                           aria-invalid={name_error.is_some().then_some("true")}
                           aria-describedby={name_described} />
                    if let Some(err) = name_error {
                        <p id="store-name-error" class="field__error" aria-live="polite">{ err }</p>
                    }
                    <p id="store-name-hint" class="field__hint">
                        { format!("{NAME_MIN_LEN}–{NAME_MAX_LEN} lowercase letters, digits and '-', starting with a letter. It names the store's address and namespace") }
                        if validate::store_name(&form.name).is_ok() { { " (" }<code>{ format!("store-{}", form.name) }</code>{ ")" } }
                        { "." }
                    </p>
                </div>
                if domains_offered {
                    { domains_field(&form.domains, error_for(DOMAINS_FIELD), &base_domain, submitting, on_domains, on_domains_blur) }
                }
                if let Some(engine) = &selected {
                    <fieldset class="fieldset" disabled={submitting}>
                        <legend class="fieldset__legend">{ format!("{} settings", if engine.display_name.is_empty() { &engine.id } else { &engine.display_name }) }</legend>
                        { match schema.as_ref() {
                            Some(Err(err)) => html! { <p class="alert alert--error">{ err.to_string() }</p> },
                            _ => html! {
                                <ConfigFields schema={schema_ok.clone().unwrap_or_default()} values={form.values.clone()}
                                              errors={config_errors} on_change={on_config} on_blur={on_config_blur}
                                              disabled={submitting} />
                            },
                        } }
                    </fieldset>
                }
                <div class="form__actions">
                    <Link to={Route::Stores} class="button button--ghost">{ "Cancel" }</Link>
                    <button type="submit" class="button button--primary" disabled={submitting}
                            aria-busy={submitting.then_some("true")}>
                        if submitting { <span class="spinner" aria-hidden="true"></span>{ "Creating…" } } else { { "Create store" } }
                    </button>
                </div>
            </form>
        </section>
    }
}

/// The optional custom domains field of the create form.
fn domains_field(
    value: &str,
    error: Option<String>,
    base_domain: &str,
    disabled: bool,
    oninput: Callback<InputEvent>,
    onblur: Callback<FocusEvent>,
) -> Html {
    let described = if error.is_some() {
        "store-domains-error store-domains-hint"
    } else {
        "store-domains-hint"
    };
    html! {
        <div class={classes!("field", error.is_some().then_some("field--invalid"))}>
            <label for="store-domains" class="field__label">
                { "Custom domains " }<span class="field__optional">{ "(optional)" }</span>
            </label>
            <input id="store-domains" name="custom_domains" class="input" type="text" value={value.to_owned()}
                   autocomplete="off" spellcheck="false" autocapitalize="none"
                   placeholder="shop.example.com, www.shop.example.com" {disabled} {oninput} {onblur}
                   aria-invalid={error.is_some().then_some("true")}
                   aria-describedby={described} />
            if let Some(err) = error {
                <p id="store-domains-error" class="field__error" aria-live="polite">{ err }</p>
            }
            <p id="store-domains-hint" class="field__hint">
                { "Your own host names for the store, separated by commas. Each needs a DNS record" }
                if base_domain.is_empty() { { "; the store page shows which once the store exists." } }
                else { { " pointing at the store's address under " }<code>{ base_domain.to_owned() }</code>{ "; the store page lists them." } }
            </p>
        </div>
    }
}
