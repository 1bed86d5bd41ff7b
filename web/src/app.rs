//! The application shell: session, routing and the live store watch as
//! contexts; header with navigation and the connection indicator; the
//! server's banners; and the page for the current route.

use std::rc::Rc;

use yew::prelude::*;

use crate::{
    api::Api,
    browser,
    components::{ConnectionIndicator, ConnectionNotice, Link, ServerBanners, TokenPrompt},
    hooks::{RouteContext, SessionContext, StoresContext, use_session, use_store_watch},
    pages::{AuditPage, CreatePage, DetailPage, NotFoundPage, StoresPage},
    route::Route,
    state::{InfoState, Session, SessionAction},
};

/// The root component.
#[function_component]
pub fn App() -> Html {
    let session = use_reducer(|| Session::new(browser::api_base(), browser::stored_token()));

    // Ask the server what it is (and whether it wants a token) on start
    // and whenever a failed attempt is retried.
    {
        let loading = matches!(session.info, InfoState::Loading);
        let dispatcher = session.dispatcher();
        use_effect_with(
            (session.api_base.clone(), loading),
            move |(base, loading)| {
                if *loading {
                    let api = Api::new(base, None);
                    yew::platform::spawn_local(async move {
                        match api.server_info().await {
                            Ok(info) => dispatcher.dispatch(SessionAction::InfoLoaded(info)),
                            Err(err) => {
                                dispatcher.dispatch(SessionAction::InfoFailed(err.to_string()))
                            }
                        }
                    });
                }
            },
        );
    }
    use_effect_with(session.token.clone(), |token| {
        browser::store_token(token.as_deref())
    });

    let route = use_state(|| Route::parse(&browser::current_path()));
    {
        let route = route.clone();
        use_effect_with((), move |()| {
            let listener = web_sys::window().map(|w| {
                gloo_events::EventListener::new(&w, "popstate", move |_| {
                    route.set(Route::parse(&browser::current_path()));
                })
            });
            move || drop(listener)
        });
    }
    {
        // Announce the new page to screen readers and put keyboard focus
        // at its start, as a full page load would (but not on first load).
        let first = use_mut_ref(|| true);
        use_effect_with((*route).clone(), move |route| {
            browser::set_title(&route.title());
            if !std::mem::replace(&mut *first.borrow_mut(), false) {
                browser::focus_id("main");
            }
        });
    }
    let navigate = {
        let route = route.clone();
        Callback::from(move |to: Route| {
            browser::push_path(&to.path());
            if let Some(w) = web_sys::window() {
                w.scroll_to_with_x_and_y(0.0, 0.0);
            }
            route.set(to);
        })
    };

    let watch_api = session
        .ready()
        .then(|| Api::new(&session.api_base, session.token.as_deref()));
    let on_unauthenticated = {
        let dispatcher = session.dispatcher();
        let token = session.token.clone();
        Callback::from(move |why: String| {
            dispatcher.dispatch(SessionAction::Rejected {
                token: token.clone(),
                why,
            })
        })
    };
    let stores = use_store_watch(watch_api, on_unauthenticated);

    let route_context = RouteContext {
        route: (*route).clone(),
        navigate,
    };
    html! {
        <ContextProvider<SessionContext> context={session.clone()}>
        <ContextProvider<RouteContext> context={route_context}>
        <ContextProvider<StoresContext> context={stores}>
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
            <Header />
            <ServerBanners />
            if session.ready() { <ConnectionNotice /> }
            <main id="main" class="main" tabindex="-1">
                <Body />
            </main>
            <Footer />
        </ContextProvider<StoresContext>>
        </ContextProvider<RouteContext>>
        </ContextProvider<SessionContext>>
    }
}

/// The page for the route, or what must come first (reaching the server,
/// signing in).
#[function_component]
fn Body() -> Html {
    let session = use_session();
    let route = crate::hooks::use_route().route;
    match &session.info {
        InfoState::Loading => html! {
            <div class="center-screen" role="status">
                <span class="spinner spinner--large" aria-hidden="true"></span>
                <p>{ "Connecting to storeplane…" }</p>
            </div>
        },
        InfoState::Failed(why) => {
            let retry = {
                let dispatcher = session.dispatcher();
                Callback::from(move |_: MouseEvent| dispatcher.dispatch(SessionAction::InfoRetry))
            };
            html! {
                <section class="auth">
                    <div class="card auth__card" role="alert">
                        <h1 class="auth__title">{ "Cannot reach storeplane" }</h1>
                        <p>{ "The dashboard could not talk to the API at " }<code class="wrap">{ session.api_base.clone() }</code>{ "." }</p>
                        <p class="muted">{ why.clone() }</p>
                        <button type="button" class="button button--primary" onclick={retry}>{ "Try again" }</button>
                    </div>
                </section>
            }
        }
        InfoState::Loaded(_) if session.needs_token() => html! { <TokenPrompt /> },
        InfoState::Loaded(_) => match route {
            Route::Stores => html! { <StoresPage /> },
            Route::NewStore => html! { <CreatePage /> },
            Route::Store(name) => html! { <DetailPage key={name.clone()} name={name.clone()} /> },
            Route::Audit => html! { <AuditPage /> },
            Route::NotFound => html! { <NotFoundPage /> },
        },
    }
}

#[function_component]
fn Header() -> Html {
    let session = use_session();
    let route = crate::hooks::use_route().route;
    let signed_in = session.ready();
    let can_sign_out = session.token.is_some();
    let sign_out = {
        let dispatcher = session.dispatcher();
        Callback::from(move |_: MouseEvent| dispatcher.dispatch(SessionAction::SignOut))
    };
    let current = |r: &Route| match (&route, r) {
        (Route::Store(_), Route::Stores) => true,
        (a, b) => a == b,
    };
    html! {
        <header class="topbar">
            <div class="topbar__inner">
                <Link to={Route::Stores} class="brand">
                    <svg class="brand__logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
                        <rect x="2" y="2" width="28" height="28" rx="8" fill="currentColor"/>
                        <path d="M9 13l2-5h10l2 5M9 13c0 2 1.3 3 3 3s3-1 3-3c0 2 1.3 3 3 3s3-1 3-3M10 16v8h12v-8" fill="none" stroke="#fff" stroke-width="2" stroke-linejoin="round"/>
                    </svg>
                    <span class="brand__name">{ "storeplane" }</span>
                </Link>
                if signed_in {
                    <nav class="nav" aria-label="Main">
                        <Link to={Route::Stores} class="nav__link" current={current(&Route::Stores)}>{ "Stores" }</Link>
                        <Link to={Route::NewStore} class="nav__link" current={current(&Route::NewStore)}>{ "Create store" }</Link>
                        <Link to={Route::Audit} class="nav__link" current={current(&Route::Audit)}>{ "Audit log" }</Link>
                    </nav>
                }
                <div class="topbar__end">
                    if signed_in { <ConnectionIndicator /> }
                    if can_sign_out {
                        <button type="button" class="button button--ghost button--small" onclick={sign_out}>{ "Sign out" }</button>
                    }
                </div>
            </div>
        </header>
    }
}

#[function_component]
fn Footer() -> Html {
    let session = use_session();
    let info = session.server().cloned().map(Rc::new);
    html! {
        <footer class="footer">
            if let Some(info) = info {
                <span>{ format!("storeplane {}", info.version) }</span>
                <span aria-hidden="true">{ "·" }</span>
                <span>{ format!("database: {}", info.database) }</span>
                <span aria-hidden="true">{ "·" }</span>
                <span>{ format!("cluster: {}", info.cluster) }</span>
            }
        </footer>
    }
}
