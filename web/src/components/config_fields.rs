//! The engine's config form, generated from its JSON Schema: a select for
//! an `enum`, a number input with bounds for `integer`/`number`, a checkbox
//! for `boolean`, an e-mail input for `format: email`, titles as labels.

use std::collections::BTreeMap;

use yew::prelude::*;

use crate::schema::{ConfigSchema, Field, FieldKind, value_text};

/// Properties of [`ConfigFields`].
#[derive(Properties, PartialEq)]
pub struct ConfigFieldsProps {
    /// The fields.
    pub schema: ConfigSchema,
    /// Current text of each control.
    pub values: BTreeMap<String, String>,
    /// Messages to show, keyed `config.<key>`.
    pub errors: BTreeMap<String, String>,
    /// A control changed: (key, text).
    pub on_change: Callback<(String, String)>,
    /// A control lost focus: `config.<key>`.
    pub on_blur: Callback<String>,
    /// While submitting.
    #[prop_or_default]
    pub disabled: bool,
}

/// The generated fields (without a surrounding `<form>`).
#[function_component]
pub fn ConfigFields(props: &ConfigFieldsProps) -> Html {
    if props.schema.fields.is_empty() {
        return html! { <p class="muted">{ "This engine needs no settings." }</p> };
    }
    html! {
        <div class="fields">
            { for props.schema.fields.iter().map(|field| field_view(props, field)) }
        </div>
    }
}

fn field_view(props: &ConfigFieldsProps, field: &Field) -> Html {
    let id = format!("config-{}", field.key);
    let path = format!("config.{}", field.key);
    let value = props.values.get(&field.key).cloned().unwrap_or_default();
    let error = props.errors.get(&path).cloned();
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let hint = field_hint(field);
    let described: Vec<&str> = [
        error.as_ref().map(|_| error_id.as_str()),
        hint.as_ref().map(|_| hint_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    let invalid = error.is_some().then_some("true");

    let key = field.key.clone();
    let on_change = props.on_change.clone();
    let emit_text = Callback::from(move |e: Event| {
        let target: web_sys::HtmlInputElement = e.target_unchecked_into();
        on_change.emit((key.clone(), target.value()));
    });
    let key = field.key.clone();
    let on_change = props.on_change.clone();
    let emit_input = Callback::from(move |e: InputEvent| {
        let target: web_sys::HtmlInputElement = e.target_unchecked_into();
        on_change.emit((key.clone(), target.value()));
    });
    let on_blur = props.on_blur.clone();
    let blur_path = path.clone();
    let onblur = Callback::from(move |_: FocusEvent| on_blur.emit(blur_path.clone()));

    let control = match &field.kind {
        FieldKind::Boolean => {
            let key = field.key.clone();
            let on_change = props.on_change.clone();
            let onchange = Callback::from(move |e: Event| {
                let target: web_sys::HtmlInputElement = e.target_unchecked_into();
                on_change.emit((key.clone(), target.checked().to_string()));
            });
            return html! {
                <div class={classes!("field", "field--check", error.is_some().then_some("field--invalid"))} key={field.key.clone()}>
                    <input id={id.clone()} type="checkbox" class="checkbox" checked={value == "true"}
                           disabled={props.disabled} {onchange} {onblur}
                           aria-invalid={invalid} aria-describedby={described} />
                    <label for={id}>{ field.label.clone() }</label>
                    { messages(&hint_id, hint, &error_id, error) }
                </div>
            };
        }
        FieldKind::Choice { options } => {
            let onchange = {
                let key = field.key.clone();
                let on_change = props.on_change.clone();
                Callback::from(move |e: Event| {
                    let target: web_sys::HtmlSelectElement = e.target_unchecked_into();
                    on_change.emit((key.clone(), target.value()));
                })
            };
            html! {
                <select id={id.clone()} class="input select" disabled={props.disabled}
                        required={field.required} {onchange} {onblur}
                        aria-invalid={invalid} aria-describedby={described}>
                    if !field.required || value.is_empty() {
                        <option value="" selected={value.is_empty()}>{ "— none —" }</option>
                    }
                    { for options.iter().map(|o| {
                        let text = value_text(o);
                        html! { <option value={text.clone()} selected={text == value}>{ text }</option> }
                    }) }
                    // A value the options do not hold (set from outside)
                    // is shown rather than silently replaced.
                    if !value.is_empty() && !options.iter().any(|o| value_text(o) == value) {
                        <option value={value.clone()} selected=true>{ value.clone() }</option>
                    }
                </select>
            }
        }
        FieldKind::Integer { minimum, maximum } => html! {
            <input id={id.clone()} type="number" inputmode="numeric" step="1" class="input input--narrow"
                   min={minimum.map(|m| m.to_string())} max={maximum.map(|m| m.to_string())}
                   value={value} required={field.required} disabled={props.disabled}
                   oninput={emit_input} {onblur}
                   aria-invalid={invalid} aria-describedby={described} />
        },
        FieldKind::Number { minimum, maximum } => html! {
            <input id={id.clone()} type="number" inputmode="decimal" step="any" class="input input--narrow"
                   min={minimum.map(|m| m.to_string())} max={maximum.map(|m| m.to_string())}
                   value={value} required={field.required} disabled={props.disabled}
                   oninput={emit_input} {onblur}
                   aria-invalid={invalid} aria-describedby={described} />
        },
        FieldKind::Text {
            format, max_length, ..
        } => {
            let (kind, autocomplete) = match format.as_deref() {
                Some("email") => ("email", Some("email")),
                Some("uri") | Some("url") => ("url", Some("url")),
                _ => ("text", None),
            };
            html! {
                <input id={id.clone()} type={kind} class="input" value={value}
                       maxlength={max_length.map(|m| m.to_string())} autocomplete={autocomplete}
                       required={field.required} disabled={props.disabled}
                       oninput={emit_input} {onblur}
                       aria-invalid={invalid} aria-describedby={described} />
            }
        }
        FieldKind::Json => html! {
            <textarea id={id.clone()} class="input textarea" value={value} rows="3" spellcheck="false"
                      required={field.required} disabled={props.disabled} {onblur}
                      onchange={emit_text}
                      aria-invalid={invalid} aria-describedby={described} />
        },
    };
    html! {
        <div class={classes!("field", error.is_some().then_some("field--invalid"))} key={field.key.clone()}>
            <label for={id} class="field__label">
                { field.label.clone() }
                if !field.required { <span class="field__optional">{ " (optional)" }</span> }
            </label>
            { control }
            { messages(&hint_id, hint, &error_id, error) }
        </div>
    }
}

fn field_hint(field: &Field) -> Option<String> {
    let bounds = match &field.kind {
        FieldKind::Integer {
            minimum: Some(lo),
            maximum: Some(hi),
        } => Some(format!("From {lo} to {hi}.")),
        FieldKind::Number {
            minimum: Some(lo),
            maximum: Some(hi),
        } => Some(format!("From {lo} to {hi}.")),
        _ => None,
    };
    match (field.description.clone(), bounds) {
        (Some(d), Some(b)) => Some(format!("{d} {b}")),
        (d, b) => d.or(b),
    }
}

fn messages(hint_id: &str, hint: Option<String>, error_id: &str, error: Option<String>) -> Html {
    html! {
        <>
            if let Some(error) = error {
                <p id={error_id.to_owned()} class="field__error">{ error }</p>
            }
            if let Some(hint) = hint {
                <p id={hint_id.to_owned()} class="field__hint">{ hint }</p>
            }
        </>
    }
}
