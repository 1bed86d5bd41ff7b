//! Asks for the bearer token when the server requires one. The token is
//! checked with a cheap call before it is accepted, so a typo is reported
//! here rather than by the page that would follow.

use yew::prelude::*;

use crate::{
    api::{Api, ApiError},
    hooks::use_session,
    state::{SessionAction, session::clean_token},
};

/// The sign-in card.
#[function_component]
pub fn TokenPrompt() -> Html {
    let session = use_session();
    let token = use_state(String::new);
    let checking = use_state(|| false);
    let error = use_state(|| {
        session
            .prompt_reason
            .as_ref()
            .map(|why| format!("Please sign in again: the server refused the token ({why})."))
    });

    let oninput = {
        let token = token.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            token.set(input.value());
        })
    };
    let onsubmit = {
        let (token, checking, error, session) = (
            token.clone(),
            checking.clone(),
            error.clone(),
            session.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let candidate = clean_token(&token);
            if candidate.is_empty() {
                error.set(Some("Enter the token first.".into()));
                return;
            }
            if *checking {
                return;
            }
            checking.set(true);
            let api = Api::new(&session.api_base, Some(&candidate));
            let (checking, error, session) = (checking.clone(), error.clone(), session.clone());
            yew::platform::spawn_local(async move {
                match api.list_engines().await {
                    Ok(_) => session.dispatch(SessionAction::SignIn(candidate)),
                    Err(ApiError::Unauthenticated(why)) => {
                        error.set(Some(format!("The server did not accept this token: {why}")));
                    }
                    Err(err) => error.set(Some(err.to_string())),
                }
                checking.set(false);
            });
        })
    };
    let invalid = error.is_some();
    html! {
        <section class="auth">
            <form class="card auth__card" {onsubmit} novalidate=true aria-labelledby="auth-title">
                <h1 id="auth-title" class="auth__title">{ "Sign in to storeplane" }</h1>
                <p class="muted">
                    { "This server requires an access token. The first start of a server prints an administrator token (" }
                    <code>{ "storeplane admin token: spt_…" }</code>
                    { "); create more with " }<code>{ "storeplane token create" }</code>{ "." }
                </p>
                <div class="field">
                    <label for="token" class="field__label">{ "Access token" }</label>
                    <input id="token" name="token" type="password" class="input"
                           autocomplete="off" spellcheck="false" placeholder="spt_…"
                           value={(*token).clone()} {oninput} disabled={*checking}
                           aria-invalid={invalid.then_some("true")}
                           aria-describedby={invalid.then_some("token-error")} />
                    if let Some(message) = &*error {
                        <p id="token-error" class="field__error" role="alert">{ message.clone() }</p>
                    }
                    <p class="field__hint">{ "Kept for this browser tab only; signing out forgets it." }</p>
                </div>
                <button type="submit" class="button button--primary button--block" disabled={*checking}>
                    if *checking { <span class="spinner" aria-hidden="true"></span>{ "Checking…" } } else { { "Sign in" } }
                </button>
            </form>
        </section>
    }
}
